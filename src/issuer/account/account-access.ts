import type { Cache } from '../../shared/cache/cache.ts';
import { sessionIndex, type StoredSession } from '../oidc/session-index.ts';
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

/** A grant record as the account page lists it: the app and every scope it holds, OpenID and API alike. */
function toAppGrant(payload: Record<string, unknown>): AppGrant {
  const openid = (payload.openid as { scope?: string } | undefined)?.scope ?? '';
  const resources = Object.values((payload.resources as Record<string, string> | undefined) ?? {});
  return {
    grantId: String(payload.jti),
    clientId: String(payload.clientId),
    scopes: [...new Set([openid, ...resources].join(' ').split(' ').filter(Boolean))],
  };
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
  const index = sessionIndex(cache);

  /** The session behind a handle, only when it is this account's. */
  async function sessionOf(accountId: string, handle: string): Promise<StoredSession | undefined> {
    const found = await index.read(handle);
    return found?.session.accountId === accountId ? found.session : undefined;
  }

  // Signing a browser out takes the app access it gave with it, as logout does there.
  const endSession = async (handle: string, session: StoredSession) =>
    Promise.all((await index.end(handle, session)).map(revokeGrant));

  return {
    async sessions(accountId: string): Promise<BrowserSession[]> {
      const found = await Promise.all(
        (await index.handlesOf(accountId)).map(async (handle) => {
          const stored = await index.read(handle);
          if (stored?.session.accountId !== accountId) return undefined;
          const { session, meta } = stored;
          return {
            handle,
            device: describeDevice(meta?.userAgent),
            signedInAt: session.loginTs ? new Date(session.loginTs * 1000) : undefined,
            lastSeenAt: meta?.lastSeen ? new Date(meta.lastSeen) : undefined,
          };
        }),
      );
      return found
        .filter((session) => session !== undefined)
        .sort((a, b) => (b.lastSeenAt?.getTime() ?? 0) - (a.lastSeenAt?.getTime() ?? 0));
    },

    /** Signs one browser out; false when the handle is not a live session of this account. */
    async revokeSession(accountId: string, handle: string): Promise<boolean> {
      if (!(await index.handlesOf(accountId)).includes(handle)) return false;
      const session = await sessionOf(accountId, handle);
      if (!session) return false;
      await endSession(handle, session);
      return true;
    },

    /** Signs every other browser out (after a password change, or on request). Returns how many. */
    async revokeOtherSessions(accountId: string, keepHandle: string | undefined): Promise<number> {
      let ended = 0;
      for (const handle of await index.handlesOf(accountId)) {
        if (handle === keepHandle) continue;
        const session = await sessionOf(accountId, handle);
        if (!session) continue;
        await endSession(handle, session);
        ended += 1;
      }
      return ended;
    },

    async grants(accountId: string): Promise<AppGrant[]> {
      const payloads = await records.grantsOf(accountId);
      return payloads
        .filter((payload) => typeof payload.clientId === 'string' && !hiddenClients.includes(payload.clientId))
        .map(toAppGrant);
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
