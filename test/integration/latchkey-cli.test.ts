import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freshPostgresDatabase,
  REAL_POSTGRES_URL,
  TEST_KEY_ENCRYPTION_KEY,
  temporaryDirectory,
} from '../support/environment.ts';
import { startIssuer, TEST_PASSWORD, totpCode, type IssuerHarness } from '../support/issuer-harness.ts';
import { parseForm, UserAgent } from '../support/user-agent.ts';
import { projectRoot } from '../support/processes.ts';

import { startWebhookReceiver } from '../support/webhook-receiver.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  json: () => Record<string, unknown>;
}

/**
 * The administrator's command line, run as a process beside a running issuer on this machine (as
 * `npm run latchkey` beside `npm start`): it reaches the admin API as the local operator.
 */
describe('latchkey command line', () => {
  let issuer: IssuerHarness;
  let env: Record<string, string | undefined>;
  let configDir: Awaited<ReturnType<typeof temporaryDirectory>>;
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>> | undefined;

  before(async () => {
    // Its own database: the key list below is this issuer's alone, not every suite's.
    database = REAL_POSTGRES_URL ? await freshPostgresDatabase() : undefined;
    issuer = await startIssuer(database ? { DATABASE_URL: database.url } : {});
    configDir = await temporaryDirectory();
    env = {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      DATA_DIR: issuer.service.config.dataDir,
      ISSUER_URL: issuer.url,
      ISSUER_PORT: String(issuer.service.port),
      KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY,
      LATCHKEY_CONFIG_DIR: configDir.path,
    };
  });
  after(async () => {
    await issuer.stop();
    await configDir.remove();
    await database?.drop();
  });

  function latchkey(args: string[], stdin?: string, extraEnv: Record<string, string | undefined> = {}): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(projectRoot, 'src/cli/latchkey.ts'), ...args], {
        env: { ...env, ...extraEnv },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdin.end(stdin ?? '');
      child.on('exit', (code) =>
        resolve({ code, stdout, stderr, json: () => JSON.parse(stdout) as Record<string, unknown> }),
      );
    });
  }

  it('works beside the running issuer as the local operator, recorded as such in the security log', async () => {
    const whoami = await latchkey(['whoami']);
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.match(whoami.stdout, /the local operator/);
    await latchkey(['role', 'create', 'made-from-the-cli']);
    const log = (
      await latchkey(['audit', 'list', '--type', 'admin.role_changed', '--json'])
    ).json() as unknown as Array<{
      actor: string;
    }>;
    assert.ok(log.some((event) => event.actor === 'local-operator'));
  });

  it('signs a person in with latchkey login (device grant, DPoP), acts as them, and signs out', async () => {
    const admin = await issuer.createUser({ roles: ['admin'], totp: true });
    const child = spawn(
      process.execPath,
      [path.join(projectRoot, 'src/cli/latchkey.ts'), 'login', '--no-browser', '--json'],
      { env },
    );
    let stdout = '';
    const firstLine = new Promise<string>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('\n')) resolve(stdout.split('\n')[0]!);
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const line = await firstLine;
    const shown = JSON.parse(line) as { verification_uri_complete: string; user_code: string };
    assert.ok(shown.user_code, line);
    // The person, in a browser: the code's page, continue, password, the authenticator code, then allow.
    const agent = new UserAgent();
    const input = parseForm(await (await agent.request(`${issuer.url}/device`)).text());
    const confirmPage = await agent.submitForm(
      new URL(input.action, issuer.url),
      { ...input.fields, user_code: shown.user_code },
      issuer.url,
    );
    const confirm = parseForm(await confirmPage.response.text());
    const login = await agent.submitForm(new URL(confirm.action, issuer.url), confirm.fields, issuer.url);
    await login.response.body?.cancel();
    const interaction = login.url.pathname;
    const afterPassword = await agent.submitForm(
      new URL(`${interaction}/login`, issuer.url),
      { csrf: agent.formToken(), email: admin.email, password: TEST_PASSWORD },
      issuer.url,
    );
    await afterPassword.response.body?.cancel();
    const consent = await agent.submitForm(
      new URL(`${interaction}/second-factor`, issuer.url),
      { csrf: agent.formToken(), code: await totpCode(admin.totpSecret!) },
      issuer.url,
    );
    assert.match(await consent.response.text(), /Allow this device\?/);
    const done = await agent.submitForm(
      new URL(`${consent.url.pathname}/consent`, issuer.url),
      { csrf: agent.formToken(), decision: 'allow' },
      issuer.url,
    );
    assert.match(await done.response.text(), /is signed in/);
    assert.equal(await exited, 0, stdout);
    assert.match(stdout, new RegExp(`"email":"${admin.email}"`));

    const whoami = await latchkey(['whoami']);
    assert.match(whoami.stdout, new RegExp(`${admin.email} at ${issuer.url} \\(latchkey login\\)`));
    const made = await latchkey(['role', 'create', 'made-by-a-signed-in-person', '--json']);
    assert.equal(made.code, 0, made.stderr);
    const log = (
      await latchkey(['audit', 'list', '--type', 'admin.role_changed', '--json'])
    ).json() as unknown as Array<{
      actor: string;
      detail: { role: string };
    }>;
    assert.ok(log.some((event) => event.actor === admin.id && event.detail.role === 'made-by-a-signed-in-person'));
    assert.equal((await latchkey(['logout'])).code, 0);
    assert.match((await latchkey(['whoami'])).stdout, /the local operator/, 'signed out: back to the local operator');
  });

  it('says how to sign in, with exit code 4, where it has no way in', async () => {
    const elsewhere = await latchkey(['user', 'list'], undefined, { DATA_DIR: configDir.path });
    assert.equal(elsewhere.code, 4);
    assert.match(elsewhere.stderr, /not signed in to .* run `latchkey login`/);
    const unreachable = await latchkey(['user', 'list', '--issuer', 'http://127.0.0.1:9'], undefined, {
      LATCHKEY_CLIENT_ID: 'someone',
      LATCHKEY_CLIENT_SECRET: 'x',
    });
    assert.equal(unreachable.code, 3);
    assert.match(unreachable.stderr, /cannot reach the issuer at http:\/\/127\.0\.0\.1:9/);
  });

  it('migrates an empty database, then finds nothing to do', async () => {
    const dir = await temporaryDirectory();
    const database = REAL_POSTGRES_URL ? await freshPostgresDatabase() : undefined;
    try {
      const fresh = { DATA_DIR: dir.path, DATABASE_URL: database?.url };
      const first = await latchkey(['migrate', '--json'], undefined, fresh);
      assert.equal(first.code, 0, first.stderr);
      assert.ok((first.json().issuer as { applied: string[] }).applied.length > 5);
      const again = await latchkey(['migrate', '--json'], undefined, fresh);
      assert.deepEqual((again.json().issuer as { applied: string[] }).applied, []);
    } finally {
      await database?.drop();
      await dir.remove();
    }
  });

  it('creates a service client, shows its secret once, and rotates it', async () => {
    const created = await latchkey(['client', 'create', '--name', 'Nightly worker', '--type', 'service', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const client = created.json();
    assert.equal(client.type, 'service');
    assert.deepEqual(client.grantTypes, ['client_credentials']);
    assert.deepEqual(client.scopes, [], 'no API named (--resource): no API scope, and a service has no OpenID ones');
    assert.deepEqual(client.resources, []);
    assert.match(
      String(client.clientSecret),
      /^lk_cs_[0-9A-Za-z]{36}$/,
      'the scannable format: 178 random bits and a checksum',
    );
    const shown = await latchkey(['client', 'show', String(client.id), '--json']);
    assert.equal(shown.json().clientSecret, undefined);
    assert.ok(!shown.stdout.includes(String(client.clientSecret)));
    const rotated = await latchkey(['client', 'rotate-secret', String(client.id), '--json']);
    assert.notEqual(rotated.json().clientSecret, client.clientSecret);
  });

  it('creates a first-party browser app and lists it, then deletes it', async () => {
    const created = await latchkey([
      'client',
      'create',
      '--name',
      'Tasks SPA',
      '--type',
      'spa',
      '--redirect-uri',
      'http://localhost:5173/callback',
      '--first-party',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const client = created.json();
    assert.equal(client.clientSecret, undefined, 'a public client has no secret');
    assert.equal(client.tokenEndpointAuthMethod, 'none');
    const listed = (await latchkey(['client', 'list', '--json'])).json() as unknown as Array<{ id: string }>;
    assert.ok(listed.some((entry) => entry.id === client.id));
    const deleted = await latchkey(['client', 'delete', String(client.id)]);
    assert.equal(deleted.code, 0, deleted.stderr + deleted.stdout);
    const gone = await latchkey(['client', 'show', String(client.id)]);
    assert.equal(gone.code, 2);
  });

  it('updates a client: what is given replaces, the rest stays, and a change that breaks a rule changes nothing', async () => {
    const created = await latchkey([
      'client',
      'create',
      '--name',
      'Editable app',
      '--type',
      'spa',
      '--redirect-uri',
      'https://app.example.com/cb',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const id = String(created.json().id);
    const updated = await latchkey([
      'client',
      'update',
      id,
      '--name',
      'Renamed app',
      '--logo-uri',
      'https://app.example.com/logo.png',
      '--policy-uri',
      'https://app.example.com/privacy',
      '--third-party',
      '--json',
    ]);
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(updated.json().name, 'Renamed app');
    assert.equal(updated.json().logoUri, 'https://app.example.com/logo.png');
    assert.deepEqual(updated.json().redirectUris, ['https://app.example.com/cb'], 'not given, not changed');
    const insecure = await latchkey(['client', 'update', id, '--tos-uri', 'http://app.example.com/terms']);
    assert.equal(insecure.code, 1);
    assert.match(insecure.stderr, /must use https/);
    const ttl = await latchkey(['client', 'update', id, '--access-token-ttl', '300', '--json']);
    assert.equal(ttl.json().accessTokenTtlSeconds, 300);
    const tooLong = await latchkey(['client', 'update', id, '--access-token-ttl', '999999']);
    assert.equal(tooLong.code, 1);
    assert.match(tooLong.stderr, /from 60 to 86400/);
    const cleared = await latchkey(['client', 'update', id, '--logo-uri', '', '--json']);
    assert.equal(cleared.json().logoUri, null);
    const shown = await latchkey(['client', 'show', id, '--json']);
    assert.equal(shown.json().policyUri, 'https://app.example.com/privacy');
    assert.equal((await latchkey(['client', 'update', 'no-such-client', '--name', 'x'])).code, 2);
  });

  it('refuses a wildcard redirect URI and a browser app without one, with exit code 1', async () => {
    const wildcard = await latchkey([
      'client',
      'create',
      '--name',
      'x',
      '--type',
      'web',
      '--redirect-uri',
      'https://*.example.com/cb',
    ]);
    assert.equal(wildcard.code, 1);
    assert.match(wildcard.stderr, /wildcards/);
    const none = await latchkey(['client', 'create', '--name', 'x', '--type', 'spa']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /redirect-uri/);
  });

  it('creates a user from a password on standard input, refuses a short one, disables and enables', async () => {
    const short = await latchkey(['user', 'create', '--email', 'short@example.com'], 'too short\n');
    assert.equal(short.code, 1);
    assert.match(short.stderr, /at least 12 characters/);
    const created = await latchkey(
      ['user', 'create', '--email', 'Ada@Example.com', '--role', 'admin', '--verified', '--json'],
      'a long enough passphrase\n',
    );
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.json().email, 'ada@example.com');
    assert.deepEqual(created.json().roles, ['admin']);
    assert.ok(!created.stdout.includes('passphrase'));
    assert.equal((await latchkey(['user', 'disable', 'ada@example.com', '--json'])).json().disabled, true);
    assert.equal((await latchkey(['user', 'show', 'ada@example.com', '--json'])).json().disabled, true);
    assert.equal((await latchkey(['user', 'enable', 'ada@example.com', '--json'])).json().disabled, false);
    const unconfirmed = await latchkey(['user', 'delete', 'ada@example.com']);
    assert.equal(unconfirmed.code, 1, 'deleting needs the address typed again');
    assert.match(unconfirmed.stderr, /repeat its address with --confirm/);
    const deleted = await latchkey(['user', 'delete', 'ada@example.com', '--confirm', 'Ada@Example.com', '--json']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal((await latchkey(['user', 'show', 'ada@example.com'])).code, 2);
  });

  it("lists a user's passkeys and removes a lost one", async () => {
    const user = await issuer.createUser();
    const passkey = await issuer.service.database.client.passkey.create({
      data: {
        userId: user.id,
        credentialId: `credential-${user.id}`,
        publicKey: Buffer.from([1, 2, 3]),
        aaguid: '00000000-0000-0000-0000-000000000000',
        deviceType: 'singleDevice',
        backedUp: false,
        userVerified: true,
        name: 'Lost phone',
      },
    });
    const listed = await latchkey(['user', 'passkeys', user.email]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /Lost phone/);
    const removed = await latchkey(['user', 'passkeys', 'remove', user.email, passkey.id]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match((await latchkey(['user', 'passkeys', user.email])).stdout, /has no passkeys/);
    assert.equal((await latchkey(['user', 'passkeys', 'remove', user.email, passkey.id])).code, 2);
  });

  it('updates the profile of a user, clears a field given empty, and refuses a bad one naming it', async () => {
    const created = await latchkey(
      ['user', 'create', '--email', 'grace@example.com', '--json'],
      'a long enough passphrase\n',
    );
    assert.equal(created.code, 0, created.stderr);
    const updated = await latchkey([
      'user',
      'update',
      'grace@example.com',
      '--name',
      'Grace Hopper',
      '--locale',
      'en-US',
      '--zoneinfo',
      'America/New_York',
      '--json',
    ]);
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(updated.json().name, 'Grace Hopper');
    assert.equal(updated.json().zoneinfo, 'America/New_York');
    const cleared = await latchkey(['user', 'update', 'grace@example.com', '--locale', '', '--json']);
    assert.equal(cleared.json().locale, null);
    assert.equal(cleared.json().name, 'Grace Hopper', 'fields not given stay as they are');
    const refused = await latchkey(['user', 'update', 'grace@example.com', '--picture', 'http://example.com/g.png']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /picture: Use an https:\/\/ address/);
    assert.equal(
      (await latchkey(['user', 'update', 'grace@example.com'])).code,
      1,
      'nothing to update is a usage error',
    );
  });

  it('registers an API with its scopes, gives a client access to it, and takes that access away with the API', async () => {
    const created = await latchkey([
      'api',
      'create',
      'https://wiki.example.com',
      '--name',
      'Wiki',
      '--scope',
      'wiki:read=Read the wiki',
      '--scope',
      'wiki:edit=Edit wiki pages',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(
      (created.json().scopes as Array<{ name: string }>).map((scope) => scope.name),
      ['wiki:read', 'wiki:edit'],
    );
    const badScope = await latchkey(['api', 'scope', 'add', 'https://wiki.example.com', '--scope', 'wiki read=Read']);
    assert.equal(badScope.code, 1);
    assert.match(badScope.stderr, /without spaces/);
    const notUri = await latchkey(['api', 'create', 'wiki', '--name', 'Wiki']);
    assert.equal(notUri.code, 1);
    const app = await latchkey([
      'client',
      'create',
      '--name',
      'Wiki bot',
      '--type',
      'service',
      '--resource',
      'https://wiki.example.com',
      '--json',
    ]);
    assert.equal(app.code, 0, app.stderr);
    assert.deepEqual(app.json().scopes, ['wiki:read', 'wiki:edit'], 'no scope given: every scope of its API');
    const removed = await latchkey(['api', 'scope', 'remove', 'https://wiki.example.com', 'wiki:edit', '--json']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual((await latchkey(['client', 'show', String(app.json().id), '--json'])).json().scopes, [
      'wiki:read',
    ]);
    assert.equal((await latchkey(['api', 'delete', 'https://wiki.example.com'])).code, 0);
    const after = (await latchkey(['client', 'show', String(app.json().id), '--json'])).json();
    assert.deepEqual([after.resources, after.scopes], [[], []], 'no client points at a deleted API');
    assert.equal((await latchkey(['api', 'show', 'https://wiki.example.com'])).code, 2);
  });

  it('manages roles: create, grant a scope of an API, give to a user and a service, refuse bad input, delete', async () => {
    const api = ['api', 'create', 'https://docs.example.com', '--name', 'Docs', '--scope', 'docs:read=Read docs'];
    assert.equal((await latchkey(api)).code, 0);
    const role = await latchkey(['role', 'create', 'reader', '--description', 'Reads the docs', '--json']);
    assert.equal(role.code, 0, role.stderr);
    const granted = await latchkey(['role', 'grant', 'reader', 'https://docs.example.com', 'docs:read', '--json']);
    assert.deepEqual(granted.json().permissions, [{ api: 'https://docs.example.com', scope: 'docs:read' }]);
    const unknownScope = await latchkey(['role', 'grant', 'reader', 'https://docs.example.com', 'docs:burn']);
    assert.equal(unknownScope.code, 1);
    assert.match(unknownScope.stderr, /has no scope docs:burn/);
    assert.equal((await latchkey(['role', 'create', 'reader'])).code, 1, 'a name taken');
    assert.equal((await latchkey(['role', 'create', 'two words'])).code, 1);
    const user = ['user', 'create', '--email', 'reader@example.com', '--verified', '--json'];
    assert.deepEqual((await latchkey(user, 'a long enough passphrase\n')).json().roles, ['user'], 'the default role');
    const added = await latchkey(['user', 'roles', 'add', 'reader@example.com', 'reader', '--json']);
    assert.deepEqual(added.json().roles, ['reader', 'user']);
    assert.equal((await latchkey(['user', 'roles', 'add', 'reader@example.com', 'ghost'])).code, 2);
    const service = await latchkey(['client', 'create', '--name', 'Docs bot', '--type', 'service', '--json']);
    const serviceId = String(service.json().id);
    assert.deepEqual((await latchkey(['client', 'roles', 'add', serviceId, 'reader', '--json'])).json().roles, [
      'reader',
    ]);
    assert.deepEqual((await latchkey(['client', 'show', serviceId, '--json'])).json().roles, ['reader']);
    const removed = await latchkey(['user', 'roles', 'remove', 'reader@example.com', 'reader', '--json']);
    assert.deepEqual(removed.json().roles, ['user']);
    assert.equal((await latchkey(['role', 'delete', 'reader'])).code, 0);
    assert.deepEqual((await latchkey(['client', 'show', serviceId, '--json'])).json().roles, []);
    assert.equal((await latchkey(['role', 'show', 'reader'])).code, 2);
  });

  it('changes a client’s grants within what its type allows', async () => {
    const web = await latchkey([
      'client',
      'create',
      '--name',
      'Web with a back end',
      '--type',
      'web',
      '--redirect-uri',
      'https://web.example.com/cb',
      '--json',
    ]);
    const id = String(web.json().id);
    const more = ['client', 'update', id, '--grant-type', 'authorization_code', '--grant-type', 'client_credentials'];
    assert.deepEqual((await latchkey([...more, '--json'])).json().grantTypes, [
      'authorization_code',
      'client_credentials',
    ]);
    const device = await latchkey([
      'client',
      'update',
      id,
      '--grant-type',
      'urn:ietf:params:oauth:grant-type:device_code',
    ]);
    assert.equal(device.code, 1);
    assert.match(device.stderr, /always has the authorization_code grant/);
  });

  it('subscribes a URL to security events, shows the secret once, sends a test event and lists the delivery', async () => {
    const receiver = await startWebhookReceiver();
    try {
      // This issuer refuses loopback receivers (WEBHOOK_ALLOW_PRIVATE_ADDRESSES is off): the API says so.
      const refused = await latchkey(['webhook', 'create', receiver.url, '--event', 'sign_in.*', '--json']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /private or local address/);
      const created = await latchkey([
        'webhook',
        'create',
        'https://hooks.example.com/latchkey',
        '--event',
        'sign_in.*',
        '--json',
      ]);
      assert.equal(created.code, 0, created.stderr);
      const { id, secret, eventTypes } = created.json() as { id: string; secret: string; eventTypes: string[] };
      assert.match(secret, /^whsec_/);
      assert.deepEqual(eventTypes, ['sign_in.*']);
      const listed = await latchkey(['webhook', 'list', '--json']);
      assert.ok(!listed.stdout.includes(secret), 'the secret is shown once, never listed');
      assert.equal((await latchkey(['webhook', 'test', id, '--json'])).code, 0);
      const deliveries = await latchkey(['webhook', 'deliveries', id, '--json']);
      assert.equal((deliveries.json() as unknown as Array<{ eventType: string }>)[0]?.eventType, 'webhook.test');
      const off = await latchkey(['webhook', 'disable', id, '--json']);
      assert.equal((off.json() as { enabled: boolean }).enabled, false);
      assert.equal((await latchkey(['webhook', 'delete', id, '--json'])).code, 0);
      assert.equal((await latchkey(['webhook', 'show', id, '--json'])).code, 2);
    } finally {
      await receiver.close();
    }
  });

  it('gives a service client a key (shown once), lists it, revokes a leaked one read from standard input', async () => {
    const created = await latchkey([
      'client',
      'create',
      '--name',
      'Key holder',
      '--type',
      'service',
      '--resource',
      issuer.taskApi,
      '--scope',
      'tasks:work',
      '--grant-type',
      'client_credentials',
      '--grant-type',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      '--token-exchange-type',
      'urn:ietf:params:oauth:token-type:access_token',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const client = created.json() as { id: string; tokenExchangeSubjectTypes: string[] };
    assert.deepEqual(client.tokenExchangeSubjectTypes, ['urn:ietf:params:oauth:token-type:access_token']);
    await latchkey(['client', 'roles', 'add', client.id, 'task-worker']);
    const made = await latchkey([
      'api-key',
      'create',
      '--client',
      client.id,
      '--name',
      'host 3',
      '--permission',
      `${issuer.taskApi} tasks:work`,
      '--json',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const { key, id, prefix } = made.json() as { key: string; id: string; prefix: string };
    assert.match(key, /^lk_svc_/);
    const listed = await latchkey(['api-key', 'list', '--client', client.id, '--json']);
    assert.deepEqual(
      (listed.json() as unknown as Array<{ id: string }>).map((row) => row.id),
      [id],
    );
    assert.ok(!listed.stdout.includes(key), 'the key is shown once, never listed');
    const beyond = await latchkey([
      'api-key',
      'create',
      '--client',
      client.id,
      '--name',
      'too much',
      '--permission',
      `${issuer.taskApi} tasks:admin`,
    ]);
    assert.equal(beyond.code, 1, 'a key never holds what its owner does not');
    const leaked = await latchkey(['api-key', 'revoke-leaked', '--json'], `${key}\n`);
    assert.equal(leaked.code, 0, leaked.stderr);
    assert.equal((leaked.json() as { prefix: string }).prefix, prefix);
    assert.notEqual((leaked.json() as { revokedAt: string | null }).revokedAt, null);
    const mangled = await latchkey(
      ['api-key', 'revoke-leaked'],
      `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}\n`,
    );
    assert.equal(mangled.code, 2, 'a key with a wrong checksum is no key of ours');
  });

  it('registers another identity provider with the secret from standard input, changes its mappings, and removes it', async () => {
    const created = await latchkey(
      [
        'idp',
        'create',
        'corp',
        '--name',
        'Corp SSO',
        '--issuer-url',
        'https://login.corp.example',
        '--client-id',
        'latchkey',
        '--allow-sign-up',
        '--domain',
        'corp.example',
        '--claim-map',
        'name=name',
        '--json',
      ],
      'upstream secret\n',
    );
    assert.equal(created.code, 0, created.stderr);
    const provider = created.json();
    assert.equal(provider.redirectUri, `${issuer.url}/federation/callback`);
    assert.deepEqual(provider.allowedDomains, ['corp.example']);
    assert.ok(!created.stdout.includes('upstream secret'), 'the secret is never shown');
    const updated = await latchkey([
      'idp',
      'update',
      'corp',
      '--disable',
      '--role-map',
      'groups:admins=admin:force',
      '--json',
    ]);
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(updated.json().enabled, false);
    assert.deepEqual(updated.json().roleMappings, [{ claim: 'groups', value: 'admins', role: 'admin', sync: 'force' }]);
    const unknownRole = await latchkey(['idp', 'update', 'corp', '--role-map', 'groups:x=no-such-role']);
    assert.equal(unknownRole.code, 1);
    assert.match(unknownRole.stderr, /no role no-such-role/);
    assert.equal((await latchkey(['idp', 'delete', 'corp'])).code, 0);
    assert.equal((await latchkey(['idp', 'show', 'corp'])).code, 2);
  });

  it('rotates keys on command and lists them with their state', async () => {
    const rotated = await latchkey(['keys', 'rotate', '--json']);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal((rotated.json().created as string[]).length, 3, 'ES256, RS256 and a cookie key');
    const keys = (await latchkey(['keys', 'list', '--json'])).json() as unknown as Array<{
      alg: string;
      state: string;
    }>;
    assert.deepEqual(
      keys
        .filter((key) => key.alg === 'ES256')
        .map((key) => key.state)
        .sort(),
      ['published', 'signing'],
    );
  });
});
