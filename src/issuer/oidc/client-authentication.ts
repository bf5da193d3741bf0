import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { clientSecretMatches } from '../clients/client-secrets.ts';

/**
 * Client secrets are stored as SHA-256 hashes: compare the hash of what was presented, in constant
 * time, and only through the method the client registered. oidc-provider accepts
 * client_secret_basic and client_secret_post interchangeably; a client registered for one must not
 * be able to authenticate with the other (a secret in a form body ends up in places an
 * Authorization header does not).
 */
export function compareHashedSecret(
  this: { clientSecret?: string; clientAuthMethod?: string },
  presented: string,
): Promise<boolean> {
  const ctx = Provider.ctx;
  const used = ctx?.oidc.params?.client_secret !== undefined ? 'client_secret_post' : 'client_secret_basic';
  if (this.clientAuthMethod !== used) return Promise.resolve(false);
  return Promise.resolve(typeof this.clientSecret === 'string' && clientSecretMatches(presented, this.clientSecret));
}

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
