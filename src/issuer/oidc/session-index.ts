import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Cache } from '../../shared/cache/cache.ts';
import { sha256Base64url } from '../../shared/crypto/digest.ts';

/**
 * The one module that knows how oidc-provider's browser sessions are stored and shaped: the cache
 * keys the adapter writes them under, the index of sessions per account, what a stored session
 * holds (`accountId`, `loginTs`, `authorizations` with grant ids), and the cookie names. A provider
 * upgrade that changes any of these breaks this module, not the pages that list sessions.
 */

/** The names of every cookie oidc-provider sets for us (configured in provider-configuration). */
export const PROVIDER_COOKIES = {
  session: 'latchkey.session',
  interaction: 'latchkey.interaction',
  resume: 'latchkey.resume',
} as const;

/** Every id the adapter stores is hashed: a copy of the tables or of Redis holds no usable code, token or session. */
export const hashId = (id: string) => sha256Base64url(id);

export const sessionKeys = {
  session: (handle: string) => `oidc:Session:${handle}`,
  /** What the account page shows of a session (browser, last seen): never the id itself. */
  meta: (handle: string) => `oidc:session-meta:${handle}`,
  ofAccount: (accountId: string) => `oidc:account-sessions:${accountId}`,
};

/** The part of oidc-provider's stored Session we read. */
export interface StoredSession {
  accountId?: string;
  loginTs?: number;
  authorizations?: Record<string, { grantId?: string }>;
}

export interface SessionMeta {
  userAgent?: string;
  lastSeen?: number;
}

/** The grants a session gave to apps (one per client it signed in to). */
export function grantIdsOf(session: StoredSession | undefined): string[] {
  return Object.values(session?.authorizations ?? {})
    .map((authorization) => authorization.grantId)
    .filter((grantId): grantId is string => typeof grantId === 'string');
}

/** The value of one cookie in a raw Cookie header (for code that runs outside koa's cookie jar). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** This browser's signed-in session: its account, its handle (the stored hash of its id), when it signed in. */
export async function currentSession(
  provider: Provider,
  ctx: Context,
): Promise<{ accountId: string; handle: string; loginTs: number; amr: string[] } | undefined> {
  const session = await provider.Session.get(ctx);
  if (!session.accountId || !session.jti) return undefined;
  const amr = (session as unknown as { amr?: unknown }).amr;
  return {
    accountId: session.accountId,
    handle: hashId(session.jti),
    loginTs: session.loginTs ?? 0,
    amr: Array.isArray(amr) ? amr.filter((method): method is string => typeof method === 'string') : [],
  };
}

/** An account's browser sessions in the cache, read and ended by handle. */
export function sessionIndex(cache: Cache) {
  return {
    /** Called by the adapter when a session is saved: indexes it by account and notes the browser. */
    async recordSaved(handle: string, accountId: string, ttlSeconds: number, userAgent: string | undefined) {
      const writes = [cache.addToSet(sessionKeys.ofAccount(accountId), handle, ttlSeconds)];
      if (userAgent !== undefined) {
        const meta: SessionMeta = { userAgent: userAgent.slice(0, 300), lastSeen: Date.now() };
        writes.push(cache.set(sessionKeys.meta(handle), JSON.stringify(meta), ttlSeconds));
      }
      await Promise.all(writes);
    },

    handlesOf: (accountId: string): Promise<string[]> => cache.setMembers(sessionKeys.ofAccount(accountId)),

    async read(handle: string): Promise<{ session: StoredSession; meta: SessionMeta | undefined } | undefined> {
      const [stored, meta] = await Promise.all([
        cache.get(sessionKeys.session(handle)),
        cache.get(sessionKeys.meta(handle)),
      ]);
      if (stored === null) return undefined;
      return {
        session: JSON.parse(stored) as StoredSession,
        meta: meta === null ? undefined : (JSON.parse(meta) as SessionMeta),
      };
    },

    /** Ends one session; returns the grants it gave, for the caller to revoke. */
    async end(handle: string, session: StoredSession): Promise<string[]> {
      await cache.delete(sessionKeys.session(handle), sessionKeys.meta(handle));
      return grantIdsOf(session);
    },

    /** Ends every session of an account at once (disable, reset). */
    async endAll(accountId: string): Promise<void> {
      const handles = await cache.setMembers(sessionKeys.ofAccount(accountId));
      await cache.delete(
        sessionKeys.ofAccount(accountId),
        ...handles.map(sessionKeys.session),
        ...handles.map(sessionKeys.meta),
      );
    },
  };
}

export type SessionIndex = ReturnType<typeof sessionIndex>;
