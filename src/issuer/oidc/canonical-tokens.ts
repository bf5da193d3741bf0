import type { KoaContextWithOIDC } from 'oidc-provider';
import { withLowS } from '../../shared/crypto/compact-jws.ts';

/**
 * Token responses carry the one spelling of each signed token that resource servers accept: an
 * ES256 signature with the low s (see shared/crypto/compact-jws.ts). The twin verifies the same, so
 * this changes no claim and no key; nothing on the issuer keeps the text of a JWT access token.
 */
export function canonicalTokenSpelling() {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    if (ctx.oidc?.route !== 'token' || ctx.status !== 200 || !ctx.body || typeof ctx.body !== 'object') return;
    const body = ctx.body as { access_token?: unknown; id_token?: unknown };
    if (typeof body.access_token === 'string') body.access_token = withLowS(body.access_token);
    if (typeof body.id_token === 'string') body.id_token = withLowS(body.id_token);
  };
}
