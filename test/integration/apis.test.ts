import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import Koa from 'koa';
import * as client from 'openid-client';
import { apiRepository } from '../../src/issuer/apis/api-repository.ts';
import { apiService, type ApiService } from '../../src/issuer/apis/api-service.ts';
import { startIssuer, type IssuerHarness } from '../support/issuer-harness.ts';

const WIKI = 'https://wiki.example.com/api';

/**
 * A resource server of the operator's own, written as one would with any RFC 9068 verifier: the
 * issuer's JWKS, its own identifier as the audience, its own scope.
 */
async function startWiki(issuerUrl: string): Promise<{ url: string; close: () => Promise<void> }> {
  const keys = createRemoteJWKSet(new URL(`${issuerUrl}/jwks`));
  const app = new Koa();
  app.use(async (ctx) => {
    const token = /^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1];
    try {
      const { payload } = await jwtVerify(token ?? '', keys, { issuer: issuerUrl, audience: WIKI, typ: 'at+jwt' });
      const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
      ctx.status = scopes.includes('wiki:read') ? 200 : 403;
      ctx.body = { sub: payload.sub };
    } catch {
      ctx.status = 401;
    }
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('the operator’s own APIs', () => {
  let issuer: IssuerHarness;
  let apis: ApiService;
  let wiki: Awaited<ReturnType<typeof startWiki>>;

  before(async () => {
    issuer = await startIssuer({ CLIENT_CACHE_TTL_SECONDS: '0' });
    apis = apiService(apiRepository(issuer.service.database.client));
    await apis.create({
      identifier: WIKI,
      name: 'Team wiki',
      scopes: [
        { name: 'wiki:read', description: 'Read the wiki' },
        { name: 'wiki:edit', description: 'Edit wiki pages' },
      ],
    });
    wiki = await startWiki(issuer.url);
  });
  after(async () => {
    await wiki.close();
    await issuer.stop();
  });

  const serviceToken = async (app: { id: string; secret?: string }, parameters: Record<string, string>) =>
    client.clientCredentialsGrant(await issuer.discover(app.id, app.secret), parameters);

  it('issues a registered API its own tokens (its aud, its scopes), which it accepts and the task API’s it refuses', async () => {
    const app = await issuer.createClient({
      type: 'service',
      resources: [WIKI, issuer.taskApi],
      scopes: ['wiki:read', 'tasks:work'],
    });
    const forWiki = await serviceToken(app, { resource: WIKI, scope: 'wiki:read' });
    const claims = decodeJwt(forWiki.access_token);
    assert.equal(claims.aud, WIKI);
    assert.equal(claims.scope, 'wiki:read');
    const accepted = await fetch(wiki.url, { headers: { authorization: `Bearer ${forWiki.access_token}` } });
    assert.equal(accepted.status, 200);
    const forTasks = await serviceToken(app, { resource: issuer.taskApi, scope: 'tasks:work' });
    assert.equal(decodeJwt(forTasks.access_token).aud, issuer.taskApi);
    const refused = await fetch(wiki.url, { headers: { authorization: `Bearer ${forTasks.access_token}` } });
    assert.equal(refused.status, 401, 'another API’s token is not for the wiki');
  });

  it('gives a client of several APIs its default API when the request names none, and refuses a default it does not hold', async () => {
    const app = await issuer.createClient({
      type: 'service',
      resources: [issuer.taskApi, WIKI],
      defaultResource: WIKI,
      scopes: ['tasks:work', 'wiki:read'],
    });
    const tokens = await serviceToken(app, { scope: 'wiki:read' });
    assert.equal(decodeJwt(tokens.access_token).aud, WIKI);
    await assert.rejects(
      issuer.createClient({ type: 'service', resources: [issuer.taskApi], defaultResource: WIKI, scopes: [] }),
      /default API .* is not one of the client's APIs/,
    );
  });

  it('refuses a client an API it was not registered for, and a scope of that API it was not given', async () => {
    const tasksOnly = await issuer.createClient({ type: 'service' });
    const oauthError = (code: string, names: RegExp) => (error: unknown) =>
      error instanceof client.ResponseBodyError && error.error === code && names.test(error.error_description ?? '');
    await assert.rejects(
      serviceToken(tasksOnly, { resource: WIKI, scope: 'wiki:read' }),
      oauthError('invalid_target', /not available/),
    );
    const reader = await issuer.createClient({ type: 'service', resources: [WIKI], scopes: ['wiki:read'] });
    await assert.rejects(
      serviceToken(reader, { resource: WIKI, scope: 'wiki:edit' }),
      oauthError('invalid_scope', /wiki:edit/),
    );
  });

  it('refuses a client that names an unregistered API or a scope none of its APIs has, changing nothing', async () => {
    await assert.rejects(
      issuer.createClient({ type: 'service', resources: ['https://nowhere.example.com'], scopes: [] }),
      /no API https:\/\/nowhere\.example\.com/,
    );
    await assert.rejects(
      issuer.createClient({ type: 'service', resources: [WIKI], scopes: ['wiki:delete'] }),
      /scope wiki:delete belongs to none/,
    );
  });

  it('takes a removed scope, then a deleted API, away from every client that had it', async () => {
    await apis.create({
      identifier: 'https://billing.example.com',
      name: 'Billing',
      scopes: [
        { name: 'billing:read', description: 'See invoices' },
        { name: 'billing:pay', description: 'Pay invoices' },
      ],
    });
    const app = await issuer.createClient({
      type: 'service',
      resources: ['https://billing.example.com'],
      scopes: ['billing:read', 'billing:pay'],
    });
    await apis.removeScope('https://billing.example.com', 'billing:pay');
    const row = () => issuer.service.database.client.client.findUnique({ where: { id: app.id } });
    assert.deepEqual((await row())!.scopes, ['billing:read']);
    const after = await serviceToken(app, {
      resource: 'https://billing.example.com',
      scope: 'billing:read billing:pay',
    });
    assert.equal(decodeJwt(after.access_token).scope, 'billing:read', 'a scope that no longer exists is not granted');
    await apis.delete('https://billing.example.com');
    assert.deepEqual((await row())!.resources, []);
    assert.deepEqual((await row())!.scopes, []);
    await assert.rejects(serviceToken(app, { resource: 'https://billing.example.com', scope: 'billing:read' }));
  });

  it('refuses an identifier that is not an absolute URI, a scope name with a space, and a name given twice', async () => {
    await assert.rejects(apis.create({ identifier: 'wiki', name: 'x' }), /absolute URI/);
    await assert.rejects(apis.create({ identifier: 'https://a.example.com#frag', name: 'x' }), /absolute URI/);
    await assert.rejects(
      apis.create({ identifier: 'https://b.example.com', name: 'x', scopes: [{ name: 'read all', description: 'x' }] }),
      /without spaces/,
    );
    await assert.rejects(
      apis.create({ identifier: 'https://c.example.com', name: 'x', scopes: [{ name: 'openid', description: 'x' }] }),
      /OpenID Connect scope/,
    );
    await assert.rejects(apis.create({ identifier: WIKI, name: 'Again' }), /already exists/);
    assert.equal(await apis.find('https://b.example.com'), null, 'nothing was written');
  });
});
