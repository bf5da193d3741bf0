import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Tokens are kept apart from the browser session (so a Redis loss signs no one out of their apps),
 * which makes oidc-provider treat them as outliving logout. Signing out means signing out: when the
 * person confirms logout, every grant the session gave is revoked, with its refresh tokens.
 */
export function revokeGrantsOnLogout(revokeGrant: (grantId: string) => Promise<void>) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    if (ctx.oidc?.route !== 'end_session_confirm' || !ctx.oidc.params?.logout) return;
    const authorizations =
      (ctx.oidc.session as unknown as { authorizations?: Record<string, { grantId?: string }> } | undefined)
        ?.authorizations ?? {};
    await Promise.all(
      Object.values(authorizations)
        .map((authorization) => authorization.grantId)
        .filter((grantId): grantId is string => typeof grantId === 'string')
        .map(revokeGrant),
    );
  };
}
