/**
 * Baselines on bare koa: `/hello` (the floor of any koa route), `/verify-only` (the same JWT check the
 * task API makes, with jose and the issuer's JWKS, and nothing else), `/discovery` and `/jwks`
 * (fixed JSON bodies of the issuer's size).
 */
import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import Koa from 'koa';

const port = Number(process.env.PORT);
const issuer = process.env.ISSUER_URL ?? '';
const audience = process.env.AUDIENCE ?? '';
const discovery = process.env.DISCOVERY_BODY ?? '{}';
const jwks = process.env.JWKS_BODY ?? '{}';
const keys = issuer ? createRemoteJWKSet(new URL(`${issuer}/jwks`)) : undefined;

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.path === '/hello') {
    ctx.body = { hello: 'world' };
  } else if (ctx.path === '/verify-only' && keys) {
    const token = ctx.get('authorization').replace(/^(Bearer|DPoP) /, '');
    try {
      const { payload } = await jwtVerify(token, keys, { issuer, audience, algorithms: ['ES256'], typ: 'at+jwt' });
      ctx.body = { items: [], sub: payload.sub };
    } catch {
      ctx.status = 401;
    }
  } else if (ctx.path === '/discovery') {
    ctx.type = 'json';
    ctx.body = discovery;
  } else if (ctx.path === '/jwks') {
    ctx.type = 'json';
    ctx.body = jwks;
  } else ctx.status = 404;
});
const handle = app.callback();
createServer((req, res) => void handle(req, res)).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
