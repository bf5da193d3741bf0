import type { Cache } from '../../shared/cache/cache.ts';
import { accountSessionsKey, sessionKey, sessionMetaKey } from '../oidc/adapter.ts';
import { describeDevice } from '../oidc/browser-context.ts';
import type { OidcRecordRepository } from '../oidc/oidc-record-repository.ts';

export interface BrowserSession {
  /** The SHA-256 of the session id, as stored: naming a session without revealing the cookie value. */
  handle: string;
  device: string;
  signedInAt: Date | undefined;
  lastSeenAt: Date | undefined;
}

export interface AppGrant {
  grantId: string;
  clientId: string;
  scopes: string[];
}

interface StoredSession {
  accountId?: string;
  loginTs?: number;
  authorizations?: Record<string, { grantId?: string }>;
}

/**
 * What an account holds at the issuer, as its owner sees it on the account page: browser sessions
 * (in the cache, indexed by account) and grants to apps (in PostgreSQL). Every revoke checks the
 * thing belongs to the account first: a handle from another account's page does nothing.
 */
export function accountAccess({
  cache,
  records,
  revokeGrant,
  hiddenClients,
}: {
  cache: Cache;
  records: OidcRecordRepository;
  revokeGrant: (grantId: string) => Promise<void>;
  hiddenClients: string[];
}) {
  async function readSession(hash: string): Promise<StoredSession | undefined> {
    const stored = await cache.get(sessionKey(hash));
    return stored === null ? undefined : (JSON.parse(stored) as StoredSession);
  }

  async function endSession(hash: string, session: StoredSession): Promise<void> {
    await cache.delete(sessionKey(hash), sessionMetaKey(hash));
    // Signing a browser out takes the app access it gave with it, as logout does there.
    const grantIds = Object.values(session.authorizations ?? {})
      .map((authorization) => authorization.grantId)
      .filter((id): id is string => typeof id === 'string');
    await Promise.all(grantIds.map(revokeGrant));
  }

  return {
    async sessions(accountId: string): Promise<BrowserSession[]> {
      const hashes = await cache.setMembers(accountSessionsKey(accountId));
      const found = await Promise.all(
        hashes.map(async (handle) => {
          const [session, meta] = await Promise.all([readSession(handle), cache.get(sessionMetaKey(handle))]);
          if (session?.accountId !== accountId) return undefined;
          const parsedMeta =
            meta === null ? undefined : (JSON.parse(meta) as { userAgent?: string; lastSeen?: number });
          return {
            handle,
            device: describeDevice(parsedMeta?.userAgent),
            signedInAt: session.loginTs ? new Date(session.loginTs * 1000) : undefined,
            lastSeenAt: parsedMeta?.lastSeen ? new Date(parsedMeta.lastSeen) : undefined,
          };
        }),
      );
      return found
        .filter((session) => session !== undefined)
        .sort((a, b) => (b.lastSeenAt?.getTime() ?? 0) - (a.lastSeenAt?.getTime() ?? 0));
    },

    /** Signs one browser out; false when the handle is not a live session of this account. */
    async revokeSession(accountId: string, handle: string): Promise<boolean> {
      if (!(await cache.setMembers(accountSessionsKey(accountId))).includes(handle)) return false;
      const session = await readSession(handle);
      if (session?.accountId !== accountId) return false;
      await endSession(handle, session);
      return true;
    },

    /** Signs every other browser out (after a password change, or on request). Returns how many. */
    async revokeOtherSessions(accountId: string, keepHandle: string | undefined): Promise<number> {
      let ended = 0;
      for (const handle of await cache.setMembers(accountSessionsKey(accountId))) {
        if (handle === keepHandle) continue;
        const session = await readSession(handle);
        if (session?.accountId !== accountId) continue;
        await endSession(handle, session);
        ended += 1;
      }
      return ended;
    },

    async grants(accountId: string): Promise<AppGrant[]> {
      const payloads = await records.grantsOf(accountId);
      return payloads
        .filter((payload) => typeof payload.clientId === 'string' && !hiddenClients.includes(payload.clientId))
        .map((payload) => {
          const openid = (payload.openid as { scope?: string } | undefined)?.scope ?? '';
          const resources = Object.values((payload.resources as Record<string, string> | undefined) ?? {});
          return {
            grantId: String(payload.jti),
            clientId: String(payload.clientId),
            scopes: [...new Set([openid, ...resources].join(' ').split(' ').filter(Boolean))],
          };
        });
    },

    /** Takes an app's access away (its refresh tokens with it); false when the grant is not this account's. */
    async revokeGrant(accountId: string, grantId: string): Promise<boolean> {
      const owned = (await records.grantsOf(accountId)).some((payload) => payload.jti === grantId);
      if (!owned) return false;
      await revokeGrant(grantId);
      return true;
    },
  };
}

export type AccountAccess = ReturnType<typeof accountAccess>;
