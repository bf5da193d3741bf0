import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import * as client from 'openid-client';
import { adminResource } from '../../src/issuer/admin/admin-api.ts';
import { LOCAL_OPERATOR_FILE } from '../../src/issuer/admin/local-operator.ts';
import { APP_REDIRECT_URI, startIssuer, type IssuerHarness, type TestUser } from '../support/issuer-harness.ts';

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** The admin API through HTTP: who may call it, what it checks, what it records. */
describe('admin API', () => {
  let issuer: IssuerHarness;
  let audience: string;
  let adminToken: string;
  let serviceId: string;
  let serviceToken: string;
  let readerToken: string;
  let plainUserToken: string;
  let staleAdminToken: string;

  before(async () => {
    issuer = await startIssuer();
    audience = adminResource(issuer.url).audience;
    const app = await issuer.createClient({
      type: 'spa',
      redirectUris: [APP_REDIRECT_URI],
      firstParty: true,
      resources: [audience],
      scopes: ['openid', 'admin:read', 'admin:write'],
    });
    const config = await issuer.discover(app.id);
    const personToken = async (user: TestUser) => {
      const { callbackUrl, verifier, state } = await issuer.authorize(config, user, {
        redirect_uri: APP_REDIRECT_URI,
        scope: 'openid admin:read admin:write',
      });
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      return tokens.access_token;
    };
    adminToken = await personToken(await issuer.createUser({ roles: ['admin'], totp: true }));
    staleAdminToken = await personToken(await issuer.createUser({ roles: ['admin'] }));
    plainUserToken = await personToken(await issuer.createUser());
    await issuer.roles.create({ name: 'auditor', description: 'Reads the admin API' });
    await issuer.roles.grant('auditor', audience, ['admin:read']);
    const serviceFor = async (roles: string[]) => {
      const created = await issuer.createClient({
        type: 'service',
        resources: [audience],
        scopes: ['admin:read', 'admin:write'],
        roles,
      });
      const tokens = await client.clientCredentialsGrant(await issuer.discover(created.id, created.secret), {
        scope: 'admin:read admin:write',
      });
      return { id: created.id, token: tokens.access_token };
    };
    ({ id: serviceId, token: serviceToken } = await serviceFor(['admin']));
    readerToken = (await serviceFor(['auditor'])).token;
  });
  after(() => issuer.stop());

  async function call(
    method: string,
    route: string,
    token: string | undefined,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const response = await fetch(`${issuer.url}/admin/v1${route}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      headers: response.headers,
    };
  }

  /** Every documented operation, with placeholder path parameters. */
  async function operations(): Promise<Array<{ method: string; route: string; write: boolean }>> {
    const document = (await (await fetch(`${issuer.url}/admin/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    return Object.entries(document.paths).flatMap(([route, methods]) =>
      Object.keys(methods).map((method) => ({
        method: method.toUpperCase(),
        route: route.replace(/\{(\w+)\}/g, (_, name: string) =>
          name === 'id' ? '00000000-0000-4000-8000-000000000000' : 'placeholder',
        ),
        write: method !== 'get',
      })),
    );
  }

  it('publishes an OpenAPI 3.1 document that validates and lists every route', async () => {
    const document = await (await fetch(`${issuer.url}/admin/v1/openapi.json`)).json();
    const result = await new Validator().validate(document as Parameters<Validator['validate']>[0]);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
    const paths = (document as { paths: Record<string, Record<string, unknown>> }).paths;
    const documented = Object.entries(paths).flatMap(([route, methods]) =>
      Object.keys(methods).map((m) => `${m} ${route}`),
    );
    assert.ok(documented.length >= 40, `${documented.length} operations`);
    for (const expected of [
      'get /users',
      'delete /users/{id}/sessions/{handle}',
      'post /clients/{id}/secret',
      'delete /roles/{name}/permissions',
      'post /keys/rotate',
      'get /events',
    ])
      assert.ok(documented.includes(expected), expected);
  });

  it('answers 401 without a token, and 403 to a person without the admin role, on every route', async () => {
    for (const { method, route } of await operations()) {
      const anonymous = await call(method, route, undefined);
      assert.equal(anonymous.status, 401, `${method} ${route}`);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /realm="latchkey-admin"/);
      const stranger = await call(method, route, plainUserToken);
      assert.equal(stranger.status, 403, `${method} ${route} with a plain user's token`);
    }
  });

  it('answers 403 insufficient_scope to an admin:read token on every write', async () => {
    for (const { method, route, write } of await operations()) {
      if (!write) continue;
      const answer = await call(method, route, readerToken);
      assert.equal(answer.status, 403, `${method} ${route}`);
      assert.equal((answer.body.error as { code: string }).code, 'insufficient_scope');
    }
    assert.equal((await call('GET', '/users', readerToken)).status, 200);
  });

  it('asks a person whose second factor is missing or old to step up before a write, not before a read', async () => {
    assert.equal((await call('GET', '/roles', staleAdminToken)).status, 200);
    const write = await call('POST', '/roles', staleAdminToken, { name: 'never-made' });
    assert.equal(write.status, 401);
    assert.match(write.headers.get('www-authenticate') ?? '', /insufficient_user_authentication.*max_age="900"/);
    const made = await call('POST', '/roles', adminToken, { name: 'made-by-a-person' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const events = await call('GET', '/events?type=admin.role_changed', adminToken);
    const items = events.body.items as Array<{ actor: string; detail: { role: string } }>;
    assert.ok(items.some((event) => event.detail.role === 'made-by-a-person' && /^[0-9a-f-]{36}$/.test(event.actor)));
  });

  it('manages a user from creation to erasure, each change in the security log under the service’s name', async () => {
    const created = await call('POST', '/users', serviceToken, {
      email: 'Grace@Example.com',
      password: 'a long enough passphrase',
      emailVerified: true,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = String(created.body.id);
    assert.deepEqual([created.body.email, created.body.roles], ['grace@example.com', ['user']]);
    assert.equal('passwordHash' in created.body, false);
    assert.equal(
      (await call('POST', '/users', serviceToken, { email: 'grace@example.com', password: 'another long passphrase' }))
        .status,
      409,
    );
    const renamed = await call('PATCH', `/users/${id}`, serviceToken, { name: 'Grace Hopper', locale: 'en-US' });
    assert.deepEqual((renamed.body.profile as { name: string }).name, 'Grace Hopper');
    const found = await call('GET', '/users?q=hopper', serviceToken);
    assert.deepEqual(
      (found.body.items as Array<{ id: string }>).map((user) => user.id),
      [id],
    );
    assert.deepEqual((await call('POST', `/users/${id}/roles`, serviceToken, { roles: ['auditor'] })).body.roles, [
      'auditor',
      'user',
    ]);
    assert.deepEqual((await call('DELETE', `/users/${id}/roles/auditor`, serviceToken)).body.roles, ['user']);
    assert.equal((await call('POST', `/users/${id}/disable`, serviceToken)).body.disabled, true);
    assert.equal((await call('POST', `/users/${id}/enable`, serviceToken)).body.disabled, false);
    assert.equal((await call('POST', `/users/${id}/unlock`, serviceToken)).status, 200);
    assert.deepEqual((await call('GET', `/users/${id}/sessions`, serviceToken)).body.items, []);
    // A lost phone: its passkey listed (never the key) and removed.
    const passkey = await issuer.service.database.client.passkey.create({
      data: {
        userId: id,
        credentialId: `credential-${id}`,
        publicKey: Buffer.from([1, 2, 3]),
        aaguid: '00000000-0000-0000-0000-000000000000',
        deviceType: 'multiDevice',
        backedUp: true,
        userVerified: true,
        name: 'Phone',
      },
    });
    const passkeys = await call('GET', `/users/${id}/passkeys`, serviceToken);
    assert.deepEqual(
      (passkeys.body.items as Array<Record<string, unknown>>).map((item) => [
        item.name,
        item.backedUp,
        'publicKey' in item,
      ]),
      [['Phone', true, false]],
    );
    assert.equal((await call('DELETE', `/users/${id}/passkeys/${passkey.id}`, serviceToken)).status, 204);
    assert.equal((await call('DELETE', `/users/${id}/passkeys/${passkey.id}`, serviceToken)).status, 404);
    assert.equal((await call('DELETE', `/users/${id}?confirm=someone@example.com`, serviceToken)).status, 400);
    assert.equal((await call('DELETE', `/users/${id}?confirm=grace@example.com`, serviceToken)).status, 204);
    assert.equal((await call('GET', `/users/${id}`, serviceToken)).status, 404);
    const log = await call('GET', `/events?user=${id}&limit=20`, serviceToken);
    const types = (log.body.items as Array<{ type: string; actor: string }>).map(
      (event) => `${event.type} ${event.actor}`,
    );
    for (const type of [
      'admin.user_created',
      'profile.updated',
      'admin.roles_assigned',
      'admin.user_disabled',
      'admin.user_deleted',
    ])
      assert.ok(types.includes(`${type} client:${serviceId}`), `${type} in ${types.join(', ')}`);
  });

  it('pages through users with a cursor, and refuses a cursor it did not issue', async () => {
    for (let i = 0; i < 3; i += 1)
      await call('POST', '/users', serviceToken, {
        email: `page-${i}@paging.example.com`,
        password: 'a long enough passphrase',
      });
    const first = await call('GET', '/users?q=paging.example.com&limit=2', serviceToken);
    assert.equal((first.body.items as unknown[]).length, 2);
    const second = await call(
      'GET',
      `/users?q=paging.example.com&limit=2&cursor=${String(first.body.nextCursor)}`,
      serviceToken,
    );
    assert.equal((second.body.items as unknown[]).length, 1);
    assert.equal(second.body.nextCursor, null);
    assert.equal((await call('GET', '/users?cursor=forged', serviceToken)).status, 400);
  });

  it('registers a client, an API, a role and its permissions, shows a secret once, and rotates keys', async () => {
    const api = await call('POST', '/apis', serviceToken, {
      identifier: 'https://billing.example.com',
      name: 'Billing',
      scopes: [{ name: 'billing:read', description: 'See invoices' }],
    });
    assert.equal(api.status, 201, JSON.stringify(api.body));
    const apiId = String(api.body.id);
    assert.equal(
      (
        await call('POST', `/apis/${apiId}/scopes`, serviceToken, {
          scopes: [{ name: 'billing:pay', description: 'Pay' }],
        })
      ).status,
      200,
    );
    const role = await call('POST', '/roles', serviceToken, { name: 'accountant' });
    assert.equal(role.status, 201);
    const granted = await call('POST', '/roles/accountant/permissions', serviceToken, {
      api: 'https://billing.example.com',
      scopes: ['billing:read', 'billing:pay'],
    });
    assert.equal((granted.body.permissions as unknown[]).length, 2);
    const revoked = await call(
      'DELETE',
      '/roles/accountant/permissions?api=https://billing.example.com&scope=billing:pay',
      serviceToken,
    );
    assert.deepEqual(revoked.body.permissions, [{ api: 'https://billing.example.com', scope: 'billing:read' }]);
    const created = await call('POST', '/clients', serviceToken, {
      name: 'Billing worker',
      type: 'service',
      resources: ['https://billing.example.com'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(String(created.body.clientSecret), /.{30,}/);
    const clientId = String(created.body.id);
    assert.equal('clientSecret' in (await call('GET', `/clients/${clientId}`, serviceToken)).body, false, 'shown once');
    assert.deepEqual(
      (await call('POST', `/clients/${clientId}/roles`, serviceToken, { roles: ['accountant'] })).body.roles,
      ['accountant'],
    );
    const rotated = await call('POST', `/clients/${clientId}/secret`, serviceToken);
    assert.notEqual(rotated.body.clientSecret, created.body.clientSecret);
    const keys = await call('GET', '/keys', serviceToken);
    assert.ok((keys.body.items as Array<{ state: string }>).some((key) => key.state === 'signing'));
    assert.equal((await call('POST', '/keys/rotate', serviceToken)).status, 202);
    const secretsInLog = JSON.stringify((await call('GET', '/events?limit=200', serviceToken)).body);
    assert.ok(!secretsInLog.includes(String(rotated.body.clientSecret)), 'no secret in the security log');
    assert.equal((await call('DELETE', `/apis/${apiId}`, serviceToken)).status, 204);
    assert.deepEqual((await call('GET', '/roles/accountant', serviceToken)).body.permissions, []);
  });

  it('lists and revokes anyone’s API keys, revokes a leaked one from its text, and makes a service key shown once', async () => {
    const person = await issuer.createUser();
    const { key, record } = await issuer.issuer.apiKeys.create(
      { userId: person.id },
      { name: 'laptop', permissions: [`${issuer.taskApi} tasks:read`] },
    );
    const listed = await call('GET', `/api-keys?userId=${person.id}`, serviceToken);
    assert.equal(listed.status, 200);
    const items = listed.body.items as Array<Record<string, unknown>>;
    assert.deepEqual(
      items.map((item) => [item.id, item.prefix, item.kind]),
      [[record.id, key.slice(0, 11), 'personal']],
    );
    assert.ok(!JSON.stringify(listed.body).includes(key) && !JSON.stringify(listed.body).includes(record.hash));
    const revoked = await call('POST', `/api-keys/${record.id}/revoke`, serviceToken);
    assert.equal(revoked.status, 200);
    assert.notEqual(revoked.body.revokedAt, null);

    const leaked = await issuer.issuer.apiKeys.create(
      { userId: person.id },
      { name: 'pasted in a chat', permissions: [`${issuer.taskApi} tasks:read`] },
    );
    const report = await call('POST', '/api-keys/revoke-leaked', serviceToken, { key: leaked.key });
    assert.equal(report.status, 200);
    assert.equal(report.body.userId, person.id, 'the owner is named');
    assert.notEqual((await issuer.issuer.apiKeys.find(leaked.record.id))?.revokedAt, null);
    const unknown = await call('POST', '/api-keys/revoke-leaked', serviceToken, { key: 'lk_pat_nothing' });
    assert.equal(unknown.status, 404);

    const worker = await issuer.createClient({ type: 'service' });
    const made = await call('POST', `/clients/${worker.id}/api-keys`, serviceToken, {
      name: 'host 7',
      permissions: [`${issuer.taskApi} tasks:work`],
      expiresInDays: 30,
    });
    assert.equal(made.status, 201);
    assert.match(String(made.body.key), /^lk_svc_/);
    const shown = await call('GET', `/api-keys/${String(made.body.id)}`, serviceToken);
    assert.equal(shown.body.key, undefined, 'shown once');
    const beyond = await call('POST', `/clients/${worker.id}/api-keys`, serviceToken, {
      name: 'too much',
      permissions: [`${issuer.taskApi} tasks:admin`],
    });
    assert.equal(beyond.status, 400);
    const types = (await issuer.issuer.events.list({ limit: 20 })).map((event) => event.type);
    assert.ok(types.includes('api_key.revoked') && types.includes('api_key.created'));
  });

  it('lists the holders of a role, and only them', async () => {
    await issuer.roles.create({ name: 'holders-test', description: 'For this test' });
    const holder = await issuer.createUser({ roles: ['holders-test'] });
    await issuer.createUser();
    const listed = await call('GET', '/users?role=holders-test', serviceToken);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      (listed.body.items as Array<{ id: string }>).map((user) => user.id),
      [holder.id],
    );
  });

  it('answers bad input with 400 in the error envelope, naming the problem', async () => {
    const unknownField = await call('POST', '/roles', serviceToken, { name: 'x', admin: true });
    assert.equal(unknownField.status, 400);
    assert.match((unknownField.body.error as { message: string }).message, /admin/);
    assert.equal(typeof (unknownField.body.error as { requestId: string }).requestId, 'string');
    assert.equal((await call('POST', '/apis', serviceToken, { identifier: 'not a uri', name: 'x' })).status, 400);
    assert.equal(
      (await call('POST', '/roles/nobody/permissions', serviceToken, { api: audience, scopes: ['admin:read'] })).status,
      404,
    );
    assert.equal(
      (await call('POST', '/roles', serviceToken, 'not json', { 'content-type': 'text/plain' })).status,
      415,
    );
    assert.equal((await call('GET', '/users/not-a-uuid', serviceToken)).status, 400);
    const weak = await call('POST', '/users', serviceToken, { email: 'weak@example.com', password: 'short' });
    assert.equal(weak.status, 400);
  });

  it('lets the local operator in from loopback with the data folder’s credential, and no one else', async () => {
    const credential = (await readFile(path.join(issuer.service.config.dataDir, LOCAL_OPERATOR_FILE), 'utf8')).trim();
    const local = { authorization: `LocalOperator ${credential}` };
    const made = await call('POST', '/roles', undefined, { name: 'made-locally' }, local);
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const events = await call('GET', '/events?type=admin.role_changed', undefined, undefined, local);
    assert.ok((events.body.items as Array<{ actor: string }>).some((event) => event.actor === 'local-operator'));
    assert.equal(
      (await call('GET', '/roles', undefined, undefined, { authorization: `LocalOperator ${'x'.repeat(43)}` })).status,
      401,
    );
    const relayed = await call('GET', '/roles', undefined, undefined, { ...local, 'x-forwarded-for': '203.0.113.9' });
    assert.equal(relayed.status, 401, 'a request relayed by a proxy on this machine is not the local operator');
  });
});
