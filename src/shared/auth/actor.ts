import type { JWTPayload } from 'jose';

/**
 * Who is calling, built from a verified access token and nothing else: never from a body, a query or
 * a header the client sets. A user acts for themselves with their roles; a service (client
 * credentials) acts as itself and has no roles.
 */
export type Actor =
  | {
      kind: 'user';
      sub: string;
      clientId: string;
      roles: ReadonlySet<string>;
      scopes: ReadonlySet<string>;
      authTime: number | undefined;
      amr: readonly string[];
      /** The verified address, when the token carries one (the person granted the `email` scope). */
      email?: string;
      /**
       * Delegation (RFC 8693 `act`): the service acting for the person, and the one it acted for in
       * turn, if any. The person's rights still decide; this says who is asking.
       */
      act?: ActingParty;
    }
  | { kind: 'service'; clientId: string; scopes: ReadonlySet<string> };

/** A party acting for the subject (RFC 8693 §4.1), and whoever it in turn acted for. */
export interface ActingParty {
  sub: string;
  clientId: string;
  act?: ActingParty;
}

function actingParty(value: unknown, depth = 0): ActingParty | undefined {
  if (!value || typeof value !== 'object' || depth > 10) return undefined;
  const { sub, client_id: clientId, act } = value as Record<string, unknown>;
  if (typeof sub !== 'string' || typeof clientId !== 'string') return undefined;
  const earlier = act === undefined ? undefined : actingParty(act, depth + 1);
  return { sub, clientId, ...(earlier ? { act: earlier } : {}) };
}

/** The issuer marks service subjects `client:<client_id>`; user subjects are UUIDs. */
export function actorFromClaims(claims: JWTPayload & Record<string, unknown>): Actor | undefined {
  const clientId = typeof claims.client_id === 'string' ? claims.client_id : undefined;
  const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
  if (!clientId || !sub) return undefined;
  const scopes = new Set(typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : []);
  if (sub === `client:${clientId}`) return { kind: 'service', clientId, scopes };
  if (sub.startsWith('client:')) return undefined;
  const roles = new Set(
    Array.isArray(claims.roles) ? claims.roles.filter((role): role is string => typeof role === 'string') : [],
  );
  const amr = Array.isArray(claims.amr)
    ? claims.amr.filter((method): method is string => typeof method === 'string')
    : [];
  return {
    kind: 'user',
    sub,
    clientId,
    roles,
    scopes,
    authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
    amr,
    ...(typeof claims.email === 'string' ? { email: claims.email } : {}),
    ...(claims.act !== undefined && actingParty(claims.act) ? { act: actingParty(claims.act)! } : {}),
  };
}
