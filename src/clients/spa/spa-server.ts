import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import type { Config } from '../../shared/config/config.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import { requestContext, type RequestState } from '../../shared/http/request-context.ts';

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));

/** Browser modules are written in TypeScript and served with their types stripped (Node's own stripper): no build step. */
function browserModule(relative: string): string {
  return stripTypeScriptTypes(readFileSync(here(relative), 'utf8'), { mode: 'strip' });
}

/**
 * The demo browser app's own origin: a few static files, its settings as /config.json, and a page
 * whose CSP lets scripts come only from here and connections go only to the issuer and the API.
 * The page is where the authorization response lands, so it is never cached and sends no referrer.
 */
export function buildSpaApp(config: Config, log: Logger): Koa<RequestState> {
  const files: Record<string, { type: string; body: string }> = {
    '/app.ts': { type: 'text/javascript', body: browserModule('./browser/app.ts') },
    '/oauth-session.ts': { type: 'text/javascript', body: browserModule('./browser/oauth-session.ts') },
    // oauth-session.ts imports '../../../shared/protocol.ts', which the browser resolves to this path.
    '/shared/protocol.ts': { type: 'text/javascript', body: browserModule('../../shared/protocol.ts') },
    '/vendor/oauth4webapi.js': {
      type: 'text/javascript',
      body: readFileSync(fileURLToPath(import.meta.resolve('oauth4webapi')), 'utf8'),
    },
    '/app.css': { type: 'text/css', body: readFileSync(here('./public/app.css'), 'utf8') },
    '/config.json': {
      type: 'application/json',
      body: JSON.stringify({
        issuer: config.issuer.url,
        api: config.taskApi.url,
        clientId: config.spa.clientId,
        redirectUri: `${config.spa.url}/`,
      }),
    },
  };
  const page = readFileSync(here('./public/index.html'), 'utf8');
  const connect = [...new Set([new URL(config.issuer.url).origin, new URL(config.taskApi.url).origin])].join(' ');

  const app = new Koa<RequestState>();
  app.silent = true;
  app.use(requestContext(log));
  app.use((ctx) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      return;
    }
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    if (ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    const file = files[ctx.path];
    if (file) {
      ctx.type = file.type;
      ctx.set('Cache-Control', 'no-cache');
      ctx.body = file.body;
      return;
    }
    const nonce = randomBytes(16).toString('base64');
    ctx.set('Cache-Control', 'no-store');
    ctx.set(
      'Content-Security-Policy',
      `default-src 'none'; script-src 'self' 'nonce-${nonce}'; style-src 'self'; connect-src 'self' ${connect}; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    );
    ctx.type = 'html';
    ctx.body = page.replace('__NONCE__', nonce);
  });
  return app;
}
