import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Router from '@koa/router';
import type { RequestState } from '../../shared/http/request-context.ts';

/** The browser half of @simplewebauthn, served by the issuer itself (no CDN): the passkey pages load it. */
export const WEBAUTHN_BROWSER_ASSET = '/assets/webauthn-browser.js';

/** The script that makes a passkey (views/scripts/passkey-register.js), at /account and on the offer after a sign-in. */
export const PASSKEY_CREATION = { script: 'passkey-register', scriptAssets: [WEBAUTHN_BROWSER_ASSET] };

/**
 * Script files the pages load, read once from installed packages and served with the page's own
 * origin (the CSP allows them by the page's nonce). They change only with a package upgrade, so a
 * day's caching is safe.
 */
export function pageAssets(): Router<RequestState> {
  const require = createRequire(import.meta.url);
  // The package's exports name only its modules; the browser bundle sits beside them.
  const browserPackage = path.join(path.dirname(require.resolve('@simplewebauthn/browser')), '..');
  const webauthn = readFileSync(path.join(browserPackage, 'dist/bundle/index.umd.min.js'), 'utf8');
  const router = new Router<RequestState>();
  router.get(WEBAUTHN_BROWSER_ASSET, (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.type = 'text/javascript';
    ctx.body = webauthn;
  });
  return router;
}
