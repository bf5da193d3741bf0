import { requestedScopes } from './first-party-grant.ts';
import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';

interface ClientExtras {
  allowed_resources?: string[];
  resource_scopes?: string[];
  access_token_ttl?: number;
  default_resource?: string;
}

/** A client's own access-token lifetime, when it has one (`latchkey client update --access-token-ttl`). */
export const clientAccessTokenTtl = (client: unknown): number | undefined =>
  (client as ClientExtras | undefined)?.access_token_ttl ?? undefined;

/** What the provider needs to know of a registered API. */
export interface ApiInfo {
  id: string;
  identifier: string;
  scopes: string[];
  accessTokenTtlSeconds: number | null;
  dpopRequired: boolean;
  roleLimited: boolean;
}

/** Whose roles limit a token: a person (by account id) or a service client. */
export type TokenSubject = { userId: string } | { clientId: string };

/** A subject's role names and the scopes their roles grant, by API id. */
export interface RoleGrants {
  roles: string[];
  scopesByApi: Map<string, Set<string>>;
}

/** What a service key used as the client's secret in this request allows (`<API> <scope>` each). */
export const serviceKeyPermissions = new WeakMap<object, ReadonlySet<string>>();

/** The person a token exchange (RFC 8693) issues for, set by the grant before it asks for the API. */
export const exchangeSubjects = new WeakMap<object, TokenSubject>();

/**
 * Whose token the token endpoint is issuing: the person of the grant being redeemed or refreshed, or
 * the service asking for itself (client credentials). Roles limit tokens, not grants: the grant keeps
 * what the person agreed to (or a first-party app asked for), so a role given later shows in the next
 * refresh, and a role taken away is gone from it.
 */
export function tokenSubject(ctx: KoaContextWithOIDC): TokenSubject | undefined {
  const exchanged = exchangeSubjects.get(ctx);
  if (exchanged) return exchanged;
  const accountId = (ctx.oidc.entities as { Grant?: { accountId?: string } }).Grant?.accountId;
  if (accountId) return { userId: accountId };
  if (ctx.oidc.params?.grant_type === 'client_credentials' && ctx.oidc.client)
    return { clientId: ctx.oidc.client.clientId };
  return undefined;
}

/**
 * The subject's role grants, read once per request (the scope and the `roles` claim both need them)
 * and afresh for every request: a role removed is gone from the next token, refreshes included.
 */
export function roleGrantsPerRequest(grantsOf: (subject: TokenSubject) => Promise<RoleGrants>) {
  const seen = new WeakMap<object, Promise<RoleGrants>>();
  return (ctx: KoaContextWithOIDC, subject: TokenSubject): Promise<RoleGrants> => {
    let grants = seen.get(ctx);
    if (!grants) {
      grants = grantsOf(subject);
      seen.set(ctx, grants);
    }
    return grants;
  };
}

/**
 * The APIs Latchkey issues tokens for (RFC 8707), as registered in the database (`latchkey api`):
 * JWT access tokens (RFC 9068) signed ES256, with the API's identifier as `aud`. A client may only
 * get tokens for the APIs it was registered for, and only the scopes it was registered with.
 */
export function resourceServers(
  findApi: (identifier: string) => Promise<ApiInfo | undefined>,
  roleGrants: ReturnType<typeof roleGrantsPerRequest>,
  defaultTtlSeconds: number,
) {
  const extras = (client: KoaContextWithOIDC['oidc']['client']) => client as unknown as ClientExtras | undefined;
  const allowedFor = (client: KoaContextWithOIDC['oidc']['client']) => extras(client)?.allowed_resources ?? [];

  return {
    /**
     * The resource server as this client may use it for this subject: the scopes the client was
     * registered with and, for a role-limited API, that the subject holds through roles. Asking for a
     * scope the client may never have is an error that names it; one the subject does not hold is
     * left out of the token (RFC 6749 §3.3), and the response's `scope` says what was granted.
     */
    getResourceServerInfo: async (
      ctx: KoaContextWithOIDC,
      resource: string,
      client: KoaContextWithOIDC['oidc']['client'],
    ): Promise<ResourceServer> => {
      const api = allowedFor(client).includes(resource) ? await findApi(resource) : undefined;
      if (!api) throw new errors.InvalidTarget(`resource ${resource} is not available to this client`);
      const clientScopes = new Set(extras(client)?.resource_scopes ?? []);
      const refused = requestedScopes(ctx).filter((scope) => api.scopes.includes(scope) && !clientScopes.has(scope));
      if (refused.length)
        throw new errors.InvalidScope(`scope ${refused.join(' ')} is not allowed for this client`, refused.join(' '));
      if (api.dpopRequired && ctx.oidc.route === 'token' && !ctx.get('DPoP'))
        throw new errors.InvalidRequest(`tokens for ${api.identifier} are issued only with a DPoP proof (RFC 9449)`);
      let scopes = api.scopes.filter((scope) => clientScopes.has(scope));
      // A service key used as the secret narrows its client's tokens to the key's permissions.
      const keyed = serviceKeyPermissions.get(ctx);
      if (keyed) scopes = scopes.filter((scope) => keyed.has(`${api.identifier} ${scope}`));
      if (api.roleLimited && ctx.oidc.route === 'token') {
        // A token whose subject is not known here carries nothing of a role-limited API (fail closed).
        const subject = tokenSubject(ctx);
        const held = subject ? (await roleGrants(ctx, subject)).scopesByApi.get(api.id) : undefined;
        scopes = scopes.filter((scope) => held?.has(scope));
      }
      return {
        scope: scopes.join(' '),
        audience: api.identifier,
        accessTokenTTL: clientAccessTokenTtl(client) ?? api.accessTokenTtlSeconds ?? defaultTtlSeconds,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      };
    },

    /**
     * With no `resource` parameter, a client registered for exactly one API gets a token for it when
     * it asked for one of its scopes (or for none at all): clients should not need to know RFC 8707
     * to get a usable JWT.
     */
    defaultResource: async (
      ctx: KoaContextWithOIDC,
      client: KoaContextWithOIDC['oidc']['client'],
      oneOf?: readonly string[],
    ): Promise<string | readonly string[] | undefined> => {
      if (oneOf) return oneOf.length === 1 ? oneOf[0] : oneOf;
      const allowed = allowedFor(client);
      const chosen = extras(client)?.default_resource;
      const candidate = chosen && allowed.includes(chosen) ? chosen : allowed.length === 1 ? allowed[0] : undefined;
      if (!candidate) return undefined;
      const requested = requestedScopes(ctx);
      if (requested.length === 0) return candidate;
      const api = await findApi(candidate);
      return requested.some((scope) => api?.scopes.includes(scope)) ? candidate : undefined;
    },
  };
}
