import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * The headers every page of the issuer carries, also on the pages oidc-provider writes itself (the
 * form_post page that carries a code, its error pages): never framed, no referrer, no sniffing,
 * and a CSP that runs no script but the one the provider hashes into it (form_post's auto-submit:
 * oidc-provider appends that script's sha256 to a script-src it finds). Our own pages replace the
 * CSP with theirs, nonce and all. Discovery may be cached briefly: its URLs come from ISSUER_URL alone.
 */
export function securityHeaders() {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    ctx.set(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
    if (ctx.oidc?.route === 'discovery' && ctx.status === 200) ctx.set('Cache-Control', 'public, max-age=300');
  };
}
