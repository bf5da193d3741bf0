import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * An authorization code is single-use whether or not its redemption succeeds: when its own client
 * presents it and is refused (a wrong PKCE verifier, a different redirect_uri), the code is
 * consumed, so a verifier cannot be guessed against it and a stolen code cannot be tried again.
 */
export function consumeCodeOnFailedRedemption() {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    if (ctx.oidc?.route !== 'token' || ctx.status !== 400 || ctx.oidc.params?.grant_type !== 'authorization_code')
      return;
    if ((ctx.body as { error?: unknown } | undefined)?.error !== 'invalid_grant') return;
    const value = ctx.oidc.params.code;
    const client = ctx.oidc.client;
    if (typeof value !== 'string' || !client) return;
    const code = await ctx.oidc.provider.AuthorizationCode.find(value, { ignoreExpiration: true });
    if (code && code.clientId === client.clientId && !(code as { consumed?: unknown }).consumed) await code.consume();
  };
}
