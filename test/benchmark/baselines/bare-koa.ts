/**
 * Baselines on bare koa: `/hello` (the floor of any koa route), `/verify-only` (the same JWT check the
 * task API makes, with jose and the issuer's JWKS, and nothing else), `/verify-and-read` (that
 * check, then the task API's own `GET /tasks/mine` SQL through `pg` as a prepared statement, when
 * TASKS_DATABASE_URL is set), `/discovery` and `/jwks` (fixed JSON bodies of the issuer's size).
 */
import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import Koa from 'koa';
import pg from 'pg';
// The statement's text only, so the baseline reads exactly what the task API reads.
import { MINE } from '../../../src/resource-server/tasks/task-repository.ts';

const port = Number(process.env.PORT);
const issuer = process.env.ISSUER_URL ?? '';
const audience = process.env.AUDIENCE ?? '';
const discovery = process.env.DISCOVERY_BODY ?? '{}';
const jwks = process.env.JWKS_BODY ?? '{}';
const keys = issuer ? createRemoteJWKSet(new URL(`${issuer}/jwks`)) : undefined;
const tasksDatabase = process.env.TASKS_DATABASE_URL
  ? new pg.Pool({
      connectionString: process.env.TASKS_DATABASE_URL,
      max: 10,
      options: `-c search_path=${process.env.TASKS_SCHEMA ?? 'tasks'}`,
    })
  : undefined;
const PAGE = 20;

async function verified(authorization: string) {
  const token = authorization.replace(/^(Bearer|DPoP) /, '');
  const { payload } = await jwtVerify(token, keys!, { issuer, audience, algorithms: ['ES256'], typ: 'at+jwt' });
  return payload;
}

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.path === '/hello') {
    ctx.body = { hello: 'world' };
  } else if (ctx.path === '/verify-only' && keys) {
    try {
      const payload = await verified(ctx.get('authorization'));
      ctx.body = { items: [], sub: payload.sub };
    } catch {
      ctx.status = 401;
    }
  } else if (ctx.path === '/verify-and-read' && keys && tasksDatabase) {
    let sub: string | undefined;
    try {
      sub = (await verified(ctx.get('authorization'))).sub;
    } catch {
      ctx.status = 401;
      return;
    }
    const { rows } = await tasksDatabase.query({ name: 'tasks-mine-first', text: MINE.first, values: [sub, PAGE + 1] });
    ctx.body = { items: rows.slice(0, PAGE), nextCursor: null };
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
