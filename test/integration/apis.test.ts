import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import Koa from 'koa';
import * as client from 'openid-client';
import { TASK_WORKER_ROLE } from '../../src/demo/demo-setup.ts';
import { apiRepository } from '../../src/issuer/apis/api-repository.ts';
import { apiService, type ApiService } from '../../src/issuer/apis/api-service.ts';
import { APP_REDIRECT_URI, startIssuer, type IssuerHarness, type TestUser } from '../support/issuer-harness.ts';

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
    // Registered through the services the admin API and `latchkey` call (latchkey-cli.test.ts runs the commands).
    const scopes = [
      { name: 'wiki:read', description: 'Read the wiki' },
      { name: 'wiki:edit', description: 'Edit wiki pages' },
    ];
    await apis.create({ identifier: WIKI, name: 'Team wiki', scopes });
    await issuer.roles.create({ name: 'wiki-reader', description: 'Reads' });
    await issuer.roles.grant('wiki-reader', WIKI, ['wiki:read']);
    await issuer.roles.create({ name: 'wiki-editor' });
    await issuer.roles.grant('wiki-editor', WIKI, ['wiki:read', 'wiki:edit']);
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
      roles: ['wiki-reader', TASK_WORKER_ROLE],
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
      roles: ['wiki-reader'],
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
    const reader = await issuer.createClient({
      type: 'service',
      resources: [WIKI],
      scopes: ['wiki:read'],
      roles: ['wiki-reader'],
    });
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
    await issuer.roles.create({ name: 'billing-clerk' });
    await issuer.roles.grant('billing-clerk', 'https://billing.example.com', ['billing:read', 'billing:pay']);
    const app = await issuer.createClient({
      type: 'service',
      resources: ['https://billing.example.com'],
      scopes: ['billing:read', 'billing:pay'],
      roles: ['billing-clerk'],
    });
    await apis.removeScope('https://billing.example.com', 'billing:pay');
    const row = () => issuer.service.database.client.client.findUnique({ where: { id: app.id } });
    assert.deepEqual((await row())!.scopes, ['billing:read']);
    assert.deepEqual(
      (await issuer.roles.get('billing-clerk')).permissions,
      [{ api: 'https://billing.example.com', scope: 'billing:read' }],
      'no role keeps a permission for a scope that is gone',
    );
    const after = await serviceToken(app, {
      resource: 'https://billing.example.com',
      scope: 'billing:read billing:pay',
    });
    assert.equal(decodeJwt(after.access_token).scope, 'billing:read', 'a scope that no longer exists is not granted');
    await apis.delete('https://billing.example.com');
    assert.deepEqual((await row())!.resources, []);
    assert.deepEqual((await row())!.scopes, []);
    await assert.rejects(serviceToken(app, { resource: 'https://billing.example.com', scope: 'billing:read' }));
    assert.deepEqual((await issuer.roles.get('billing-clerk')).permissions, []);
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

describe('roles shape what each token carries', () => {
  const DOCS = 'https://docs.example.com/api';
  let issuer: IssuerHarness;
  let config: client.Configuration;

  before(async () => {
    // No API cache: the DPoP switch below takes effect at once.
    issuer = await startIssuer({ CLIENT_CACHE_TTL_SECONDS: '0' });
    const apis = apiService(apiRepository(issuer.service.database.client));
    await apis.create({
      identifier: DOCS,
      name: 'Documents',
      scopes: [
        { name: 'docs:read', description: 'Read documents' },
        { name: 'docs:publish', description: 'Publish documents' },
      ],
    });
    await issuer.roles.create({ name: 'docs-writer', description: 'Writes and publishes' });
    await issuer.roles.grant('docs-writer', DOCS, ['docs:read', 'docs:publish']);
    await issuer.roles.grant('user', DOCS, ['docs:read']);
    const app = await issuer.createClient({
      type: 'spa',
      redirectUris: [APP_REDIRECT_URI],
      firstParty: true,
      resources: [DOCS],
      scopes: ['openid', 'offline_access', 'docs:read', 'docs:publish'],
    });
    config = await issuer.discover(app.id);
  });
  after(() => issuer.stop());

  async function signIn(user: TestUser) {
    const scope = 'openid offline_access docs:read docs:publish';
    const { callbackUrl, verifier, state } = await issuer.authorize(config, user, {
      redirect_uri: APP_REDIRECT_URI,
      scope,
    });
    return client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
  }
  const scopesOf = (accessToken: string) => {
    const { scope } = decodeJwt(accessToken);
    return typeof scope === 'string' ? scope.split(' ') : [];
  };

  it('leaves out of a person’s token a role-limited scope they do not hold, even when asked, and says so', async () => {
    const tokens = await signIn(await issuer.createUser());
    assert.deepEqual(scopesOf(tokens.access_token), ['docs:read']);
    assert.ok(!tokens.scope?.includes('docs:publish'), `granted scope in the response: ${tokens.scope ?? ''}`);
    assert.deepEqual(decodeJwt(tokens.access_token).roles, ['user']);
  });

  it('carries a role given after sign-in from the next refresh on, and drops it from the next after it is taken away', async () => {
    const user = await issuer.createUser();
    const first = await signIn(user);
    assert.ok(!scopesOf(first.access_token).includes('docs:publish'));

    await issuer.roles.assign({ userId: user.id }, ['docs-writer']);
    const granted = await client.refreshTokenGrant(config, first.refresh_token!);
    assert.deepEqual(scopesOf(granted.access_token).sort(), ['docs:publish', 'docs:read']);
    assert.deepEqual(decodeJwt(granted.access_token).roles, ['docs-writer', 'user']);

    await issuer.roles.unassign({ userId: user.id }, ['docs-writer']);
    const revoked = await client.refreshTokenGrant(config, granted.refresh_token!);
    assert.deepEqual(scopesOf(revoked.access_token), ['docs:read']);
    assert.deepEqual(decodeJwt(revoked.access_token).roles, ['user']);
  });

  it('gives a service exactly the permissions of its roles, and its role names as `roles`', async () => {
    const service = await issuer.createClient({
      type: 'service',
      resources: [DOCS],
      scopes: ['docs:read', 'docs:publish'],
      roles: [],
    });
    const serviceConfig = await issuer.discover(service.id, service.secret);
    const none = await client.clientCredentialsGrant(serviceConfig, { scope: 'docs:read docs:publish' });
    assert.equal(decodeJwt(none.access_token).scope, undefined, 'no role: no scope');
    assert.deepEqual(decodeJwt(none.access_token).roles, []);
    await issuer.roles.assign({ clientId: service.id }, ['docs-writer']);
    const held = await client.clientCredentialsGrant(serviceConfig, { scope: 'docs:read docs:publish' });
    assert.deepEqual(scopesOf(held.access_token).sort(), ['docs:publish', 'docs:read']);
    assert.deepEqual(decodeJwt(held.access_token).roles, ['docs-writer']);
  });

  it('issues tokens for a DPoP-only API only with a DPoP proof, and binds them to its key', async () => {
    await apiService(apiRepository(issuer.service.database.client)).update(DOCS, { dpopRequired: true });
    try {
      const service = await issuer.createClient({
        type: 'service',
        resources: [DOCS],
        scopes: ['docs:read'],
        roles: ['docs-writer'],
      });
      const serviceConfig = await issuer.discover(service.id, service.secret);
      await assert.rejects(
        client.clientCredentialsGrant(serviceConfig, { scope: 'docs:read' }),
        (error: unknown) =>
          error instanceof client.ResponseBodyError &&
          error.error === 'invalid_request' &&
          /DPoP proof/.test(error.error_description ?? ''),
      );
      const DPoP = client.getDPoPHandle(serviceConfig, await client.randomDPoPKeyPair());
      const bound = await client.clientCredentialsGrant(serviceConfig, { scope: 'docs:read' }, { DPoP });
      assert.equal(bound.token_type, 'dpop');
      assert.ok((decodeJwt(bound.access_token).cnf as { jkt?: string } | undefined)?.jkt);
    } finally {
      await apiService(apiRepository(issuer.service.database.client)).update(DOCS, { dpopRequired: false });
    }
  });

  it('refuses a bad role name, a name taken, and a grant of a scope its API lacks, changing nothing', async () => {
    await assert.rejects(issuer.roles.create({ name: 'has space' }), /role name "has space" must be/);
    await assert.rejects(issuer.roles.create({ name: 'docs-writer' }), /a role docs-writer already exists/);
    await assert.rejects(issuer.roles.grant('docs-writer', DOCS, ['docs:read', 'docs:burn']), /has no scope docs:burn/);
    await assert.rejects(issuer.roles.grant('docs-writer', 'https://none.example.com', ['x']), /no API/);
    await assert.rejects(issuer.roles.assign({ userId: (await issuer.createUser()).id }, ['ghost']), /no role ghost/);
    assert.deepEqual(
      (await issuer.roles.get('docs-writer')).permissions.map((permission) => permission.scope),
      ['docs:publish', 'docs:read'],
    );
  });
});
