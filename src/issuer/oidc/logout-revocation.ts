import type { KoaContextWithOIDC } from 'oidc-provider';
import { grantIdsOf, type StoredSession } from './session-index.ts';

/**
 * Tokens are kept apart from the browser session (so a Redis loss signs no one out of their apps),
 * which makes oidc-provider treat them as outliving logout. Signing out means signing out: when the
 * person confirms logout, every grant the session gave is revoked, with its refresh tokens.
 */
export function revokeGrantsOnLogout(revokeGrant: (grantId: string) => Promise<void>) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    if (ctx.oidc?.route !== 'end_session_confirm' || !ctx.oidc.params?.logout) return;
    await Promise.all(grantIdsOf(ctx.oidc.session as unknown as StoredSession | undefined).map(revokeGrant));
  };
}
