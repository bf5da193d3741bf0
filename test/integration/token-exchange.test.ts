import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { apiRepository } from '../../src/issuer/apis/api-repository.ts';
import { apiService } from '../../src/issuer/apis/api-service.ts';
import { GRANT_TYPES, TOKEN_TYPES } from '../../src/shared/protocol.ts';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { captureLog } from '../support/log-capture.ts';
import { temporaryDirectory } from '../support/environment.ts';
import { spawnEntry } from '../support/processes.ts';
import { startStack, type Stack } from '../support/task-api-harness.ts';

const GATEWAY = 'https://gateway.example.com/api';
const EXCHANGE = GRANT_TYPES.tokenExchange;

/** The token endpoint's OAuth error, as openid-client reports it. */
const oauthError = (code: string, description?: RegExp) => (error: unknown) =>
  error instanceof client.ResponseBodyError &&
  error.error === code &&
  (!description || description.test(error.error_description ?? ''));

/** A refused client authentication: 401 invalid_client with a challenge (RFC 6749 §5.2). */
const invalidClient = (error: unknown) =>
  error instanceof client.WWWAuthenticateChallengeError &&
  error.response.status === 401 &&
  error.code === 'OAUTH_WWW_AUTHENTICATE_CHALLENGE';

describe('API keys and token exchange (RFC 8693)', () => {
  let stack: Stack;
  const issuerLog = captureLog();
  const apiLog = captureLog();
  /** Every key this suite made: none may appear in any log. */
  const keysMade: string[] = [];
  let cli: { id: string };
  let cliConfig: client.Configuration;

  before(async () => {
    stack = await startStack({
      issuerOverrides: { CLIENT_CACHE_TTL_SECONDS: '0' },
      issuerLog: issuerLog.stream,
      apiLog: apiLog.stream,
    });
    cli = await stack.issuer.createClient({
      type: 'cli',
      grantTypes: [GRANT_TYPES.deviceCode, 'refresh_token', EXCHANGE],
      tokenExchangeSubjectTypes: [TOKEN_TYPES.personalAccessToken],
    });
    cliConfig = await stack.issuer.discover(cli.id);
  });
  after(async () => {
    await stack.stop();
    const logs = issuerLog.text() + apiLog.text();
    for (const key of keysMade) assert.ok(!logs.includes(key), 'no key is ever logged');
    assert.ok(!/lk_(pat|svc)_[0-9A-Za-z]{36}/.test(logs), 'nothing shaped like a key is logged');
  });

  const taskApiPermission = (scope: string) => `${stack.apiUrl} ${scope}`;
  async function personalKey(userId: string, scopes: string[], expiresInDays?: number) {
    const { key, record } = await stack.issuer.issuer.apiKeys.create(
      { userId },
      { name: 'ci job', permissions: scopes.map(taskApiPermission), ...(expiresInDays ? { expiresInDays } : {}) },
    );
    keysMade.push(key);
    return { key, record };
  }
  const exchangeKey = (key: string, parameters: Record<string, string> = {}, config = cliConfig) =>
    client.genericGrantRequest(config, EXCHANGE, {
      subject_token: key,
      subject_token_type: TOKEN_TYPES.personalAccessToken,
      resource: stack.apiUrl,
      ...parameters,
    });

  it('trades a personal access token for a task API token: its audience, only the asked scopes, no refresh token', async () => {
    const user = await stack.issuer.createUser();
    const { key } = await personalKey(user.id, ['tasks:read', 'tasks:write']);
    assert.match(key, /^lk_pat_[0-9A-Za-z]{36}$/);
    const tokens = await exchangeKey(key, { scope: 'tasks:read' });
    assert.equal(tokens.issued_token_type, TOKEN_TYPES.accessToken);
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.scope, 'tasks:read');
    assert.equal(tokens.refresh_token, undefined);
    assert.ok(tokens.expires_in && tokens.expires_in > 0);
    const claims = decodeJwt(tokens.access_token);
    assert.equal(claims.aud, stack.apiUrl);
    assert.equal(claims.sub, user.id);
    assert.equal(claims.client_id, cli.id);
    assert.equal(claims.scope, 'tasks:read');
    assert.equal((await stack.call('GET', '/tasks/mine', tokens.access_token)).status, 200);
    const events = await stack.issuer.issuer.events.list({ userId: user.id, limit: 10 });
    assert.ok(events.some((event) => event.type === 'token_exchange.succeeded'));
  });

  it('narrows a request for scopes the key lacks to those it has, and refuses one asking only for what it lacks', async () => {
    const user = await stack.issuer.createUser();
    const { key } = await personalKey(user.id, ['tasks:read']);
    const narrowed = await exchangeKey(key, { scope: 'tasks:read tasks:write' });
    assert.equal(narrowed.scope, 'tasks:read');
    assert.equal(decodeJwt(narrowed.access_token).scope, 'tasks:read');
    await assert.rejects(exchangeKey(key, { scope: 'tasks:write' }), oauthError('invalid_scope'));
  });

  it('refuses a key whose owner has lost the role behind its permissions, at once', async () => {
    const user = await stack.issuer.createUser({ roles: ['user'] });
    const { key } = await personalKey(user.id, ['tasks:read']);
    await exchangeKey(key);
    await stack.issuer.roles.unassign({ userId: user.id }, ['user']);
    await assert.rejects(exchangeKey(key), oauthError('invalid_grant'));
  });

  it('refuses a revoked key, an expired key and the key of a disabled account with invalid_grant', async () => {
    const db = stack.issuer.service.database.client;
    const user = await stack.issuer.createUser();
    const revoked = await personalKey(user.id, ['tasks:read']);
    await stack.issuer.issuer.apiKeys.revoke(revoked.record.id, { userId: user.id });
    await assert.rejects(exchangeKey(revoked.key), oauthError('invalid_grant'));
    const refusals = (await stack.issuer.issuer.events.list({ userId: user.id, limit: 10 })).filter(
      (event) => event.type === 'token_exchange.refused',
    );
    assert.equal(refusals.length, 1, 'the use of a revoked key is in the owner’s security log');
    const expired = await personalKey(user.id, ['tasks:read']);
    await db.apiKey.update({ where: { id: expired.record.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await assert.rejects(exchangeKey(expired.key), oauthError('invalid_grant'));
    const live = await personalKey(user.id, ['tasks:read']);
    await db.user.update({ where: { id: user.id }, data: { disabledAt: new Date() } });
    await assert.rejects(exchangeKey(live.key), oauthError('invalid_grant'));
  });

  it('refuses a key with a wrong checksum and a key it never made alike', async () => {
    const user = await stack.issuer.createUser();
    const { key } = await personalKey(user.id, ['tasks:read']);
    const mangled = `${key.slice(0, 20)}${key[20] === 'a' ? 'b' : 'a'}${key.slice(21)}`;
    await assert.rejects(exchangeKey(mangled), oauthError('invalid_grant'));
    await assert.rejects(exchangeKey('lk_pat_not-a-key'), oauthError('invalid_grant'));
  });

  it('answers unauthorized_client to a client without the grant, and to one not given this subject token type', async () => {
    const user = await stack.issuer.createUser();
    const { key } = await personalKey(user.id, ['tasks:read']);
    const plain = await stack.issuer.createClient({ type: 'cli' });
    await assert.rejects(
      exchangeKey(key, {}, await stack.issuer.discover(plain.id)),
      oauthError('unauthorized_client'),
    );
    const delegating = await stack.issuer.createClient({
      type: 'service',
      grantTypes: ['client_credentials', EXCHANGE],
      tokenExchangeSubjectTypes: [TOKEN_TYPES.accessToken],
    });
    const config = await stack.issuer.discover(delegating.id, delegating.secret);
    await assert.rejects(exchangeKey(key, {}, config), oauthError('unauthorized_client'));
  });

  it('advertises the grant in discovery while a client may use it', async () => {
    const discovery = async () =>
      (await (await fetch(`${stack.issuer.url}/.well-known/openid-configuration`)).json()) as {
        grant_types_supported: string[];
      };
    assert.ok((await discovery()).grant_types_supported.includes(EXCHANGE));
    const db = stack.issuer.service.database.client;
    const holders = await db.client.findMany({ where: { grantTypes: { has: EXCHANGE } } });
    await db.client.updateMany({
      where: { id: { in: holders.map((holder) => holder.id) } },
      data: { grantTypes: { set: [GRANT_TYPES.deviceCode] }, tokenExchangeSubjectTypes: { set: [] } },
    });
    try {
      assert.ok(!(await discovery()).grant_types_supported.includes(EXCHANGE));
    } finally {
      for (const holder of holders)
        await db.client.update({
          where: { id: holder.id },
          data: { grantTypes: holder.grantTypes, tokenExchangeSubjectTypes: holder.tokenExchangeSubjectTypes },
        });
    }
  });

  describe('delegation', () => {
    let gatewayService: { id: string; secret?: string | undefined };
    let gatewayConfig: client.Configuration;
    let userToken: string;
    let userId: string;

    before(async () => {
      // A gateway API the person's app calls, whose back end calls the task API for the person.
      const apis = apiService(apiRepository(stack.issuer.service.database.client));
      await apis.create({
        identifier: GATEWAY,
        name: 'Gateway',
        roleLimited: false,
        scopes: [{ name: 'tasks:read', description: 'See your tasks through the gateway' }],
      });
      const app = await stack.issuer.createClient({
        type: 'spa',
        redirectUris: ['http://127.0.0.1:5173/callback'],
        firstParty: true,
        resources: [GATEWAY],
        scopes: ['openid', 'tasks:read'],
      });
      const user = await stack.issuer.createUser();
      userId = user.id;
      const appConfig = await stack.issuer.discover(app.id);
      const { callbackUrl, verifier, state } = await stack.issuer.authorize(appConfig, user, {
        redirect_uri: 'http://127.0.0.1:5173/callback',
        scope: 'openid tasks:read',
        resource: GATEWAY,
      });
      const tokens = await client.authorizationCodeGrant(appConfig, callbackUrl, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      userToken = tokens.access_token;
      assert.ok([decodeJwt(userToken).aud].flat().includes(GATEWAY));
      gatewayService = await stack.issuer.createClient({
        type: 'service',
        grantTypes: ['client_credentials', EXCHANGE],
        tokenExchangeSubjectTypes: [TOKEN_TYPES.accessToken],
        scopes: ['tasks:read', 'tasks:write', 'tasks:work'],
      });
      gatewayConfig = await stack.issuer.discover(gatewayService.id, gatewayService.secret);
    });

    const ownToken = async (config: client.Configuration) =>
      (await client.clientCredentialsGrant(config, { scope: 'tasks:work' })).access_token;
    const delegate = async (config: client.Configuration, subject: string, parameters: Record<string, string> = {}) =>
      client.genericGrantRequest(config, EXCHANGE, {
        subject_token: subject,
        subject_token_type: TOKEN_TYPES.accessToken,
        actor_token: await ownToken(config),
        actor_token_type: TOKEN_TYPES.accessToken,
        resource: stack.apiUrl,
        ...parameters,
      });

    it('gives a service acting for a person a task API token naming it in act, which the task API logs', async () => {
      const tokens = await delegate(gatewayConfig, userToken);
      const claims = decodeJwt(tokens.access_token);
      assert.equal(claims.sub, userId);
      assert.equal(claims.aud, stack.apiUrl);
      assert.equal(claims.scope, 'tasks:read');
      assert.deepEqual(claims.act, { sub: `client:${gatewayService.id}`, client_id: gatewayService.id });
      assert.equal(tokens.refresh_token, undefined);
      assert.equal((await stack.call('GET', '/tasks/mine', tokens.access_token)).status, 200);
      const line = apiLog
        .entries()
        .find((entry) => entry.onBehalfOf === userId && entry.actingClient === gatewayService.id);
      assert.ok(line, 'the task API’s log says which service acted for which person');
    });

    it('never gives more scope than the subject token had', async () => {
      await assert.rejects(delegate(gatewayConfig, userToken, { scope: 'tasks:write' }), oauthError('invalid_scope'));
    });

    it('nests the earlier act when a delegated token is delegated again', async () => {
      const first = await delegate(gatewayConfig, userToken);
      const second = await stack.issuer.createClient({
        type: 'service',
        grantTypes: ['client_credentials', EXCHANGE],
        tokenExchangeSubjectTypes: [TOKEN_TYPES.accessToken],
        scopes: ['tasks:read', 'tasks:work'],
      });
      const secondConfig = await stack.issuer.discover(second.id, second.secret);
      const chained = decodeJwt((await delegate(secondConfig, first.access_token)).access_token);
      assert.deepEqual(chained.act, {
        sub: `client:${second.id}`,
        client_id: second.id,
        act: { sub: `client:${gatewayService.id}`, client_id: gatewayService.id },
      });
    });

    it('refuses an actor token that is not the calling client’s own', async () => {
      const other = await stack.serviceToken();
      await assert.rejects(
        client.genericGrantRequest(gatewayConfig, EXCHANGE, {
          subject_token: userToken,
          subject_token_type: TOKEN_TYPES.accessToken,
          actor_token: other.token,
          actor_token_type: TOKEN_TYPES.accessToken,
          resource: stack.apiUrl,
        }),
        oauthError('invalid_grant'),
      );
    });

    it('refuses a forged subject token and one of a disabled person', async () => {
      const forged = await stack.signAsIssuer({
        sub: userId,
        aud: GATEWAY,
        client_id: 'x',
        scope: 'tasks:read',
        exp: 1,
      });
      await assert.rejects(delegate(gatewayConfig, forged), oauthError('invalid_grant'));
      const person = await stack.userToken();
      await stack.issuer.service.database.client.user.update({
        where: { id: person.sub },
        data: { disabledAt: new Date() },
      });
      await assert.rejects(delegate(gatewayConfig, person.token), oauthError('invalid_grant'));
    });
  });

  describe('the command-line clients on keys', () => {
    it('taskctl with TASKCTL_TOKEN=lk_pat_… lists the owner’s tasks, and with --token-file too, without signing in', async () => {
      const user = await stack.userToken();
      await stack.call('POST', '/tasks', user.token, { title: 'Rotate the certificates' });
      const { key } = await personalKey(user.sub, ['tasks:read']);
      const home = await temporaryDirectory();
      const env = {
        ISSUER_URL: stack.issuer.url,
        TASK_API_URL: stack.apiUrl,
        TASKCTL_CLIENT_ID: cli.id,
        TASKCTL_CONFIG_DIR: home.path,
        HOME: home.path,
      };
      try {
        const run = spawnEntry('src/clients/cli/taskctl.ts', { ...env, TASKCTL_TOKEN: key }, [
          'tasks',
          'list',
          '--json',
        ]);
        assert.equal((await run.exited).code, 0, run.output());
        const tasks = JSON.parse(run.output().trim().split('\n').at(-1)!) as Array<{ title: string }>;
        assert.deepEqual(
          tasks.map((task) => task.title),
          ['Rotate the certificates'],
        );
        const file = path.join(home.path, 'key');
        await writeFile(file, `${key}\n`, { mode: 0o600 });
        const fromFile = spawnEntry('src/clients/cli/taskctl.ts', env, ['whoami', '--token-file', file, '--json']);
        assert.equal((await fromFile.exited).code, 0, fromFile.output());
        assert.match(fromFile.output(), new RegExp(user.sub));
        const write = spawnEntry('src/clients/cli/taskctl.ts', { ...env, TASKCTL_TOKEN: key }, ['tasks', 'add', 'x']);
        assert.equal((await write.exited).code, 3, 'a read-only key cannot write');
        assert.ok(!(run.output() + fromFile.output() + write.output()).includes(key), 'the key is never printed');
      } finally {
        await home.remove();
      }
    });

    it('the worker runs on a service key in place of its client secret', async () => {
      const user = await stack.userToken();
      const created = await stack.call('POST', '/tasks', user.token, { title: 'Process the queue with a key' });
      const service = await stack.issuer.createClient({ type: 'service' });
      const { key } = await stack.issuer.issuer.apiKeys.create(
        { clientId: service.id },
        { name: 'worker', permissions: [taskApiPermission('tasks:work')] },
      );
      keysMade.push(key);
      const worker = spawnEntry('src/clients/worker/main.ts', {
        ISSUER_URL: stack.issuer.url,
        TASK_API_URL: stack.apiUrl,
        WORKER_CLIENT_ID: service.id,
        WORKER_CLIENT_SECRET: key,
        WORKER_IDLE_MAX_MS: '500',
      });
      try {
        let status = '';
        for (let i = 0; i < 60 && status !== 'done'; i += 1) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          status = String((await stack.call('GET', `/tasks/${String(created.body.id)}`, user.token)).body.status);
        }
        assert.equal(status, 'done', worker.output());
      } finally {
        worker.child.kill('SIGTERM');
      }
      await worker.exited;
      assert.ok(!worker.output().includes(key));
    });
  });

  describe('service keys', () => {
    it('lets a worker use a service key as its client secret, narrowed to the key’s permissions, until revoked', async () => {
      const worker = await stack.issuer.createClient({ type: 'service', scopes: ['tasks:work'] });
      const { key, record } = await stack.issuer.issuer.apiKeys.create(
        { clientId: worker.id },
        { name: 'worker on host 3', permissions: [taskApiPermission('tasks:work')] },
      );
      keysMade.push(key);
      assert.match(key, /^lk_svc_/);
      const config = await stack.issuer.discover(worker.id, key);
      const tokens = await client.clientCredentialsGrant(config, { scope: 'tasks:work' });
      assert.equal(decodeJwt(tokens.access_token).scope, 'tasks:work');
      assert.equal(decodeJwt(tokens.access_token).sub, `client:${worker.id}`);
      await stack.issuer.issuer.apiKeys.revoke(record.id);
      await assert.rejects(client.clientCredentialsGrant(config, { scope: 'tasks:work' }), invalidClient);
    });

    it('refuses one client’s service key presented as another client’s secret', async () => {
      const owner = await stack.issuer.createClient({ type: 'service' });
      const other = await stack.issuer.createClient({ type: 'service' });
      const { key } = await stack.issuer.issuer.apiKeys.create(
        { clientId: owner.id },
        { name: 'owner key', permissions: [taskApiPermission('tasks:work')] },
      );
      keysMade.push(key);
      const config = await stack.issuer.discover(other.id, key);
      await assert.rejects(client.clientCredentialsGrant(config, { scope: 'tasks:work' }), invalidClient);
    });
  });
});
