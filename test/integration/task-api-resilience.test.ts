import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import { sealer } from '../../src/shared/crypto/sealing.ts';
import { keyRing } from '../../src/issuer/keys/key-ring.ts';
import { signingKeyRepository } from '../../src/issuer/keys/signing-key-repository.ts';
import { buildTaskApiApp } from '../../src/resource-server/task-api-app.ts';
import { taskApiService } from '../../src/resource-server/task-api-service.ts';
import { startService } from '../../src/shared/lifecycle/service.ts';
import { TEST_KEY_ENCRYPTION_KEY, temporaryDirectory, testConfig } from '../support/environment.ts';
import { freePort } from '../support/processes.ts';
import { startStack, type Stack } from '../support/task-api-harness.ts';

describe('task API resilience', () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      jwksCooldownMs: 200,
      issuerOverrides: { KEY_PUBLISH_LEAD_SECONDS: '0', KEY_RELOAD_INTERVAL_SECONDS: '0.2' },
    });
  });
  after(() => stack.stop());

  it('accepts tokens signed by a key the issuer rotated in while the API runs, without a restart', async () => {
    const service = await stack.serviceToken();
    assert.equal((await stack.call('GET', '/worker/tasks/next', service.token)).status === 401, false);
    const oldKid = decodeProtectedHeader(service.token).kid;
    const ring = keyRing(
      signingKeyRepository(stack.issuer.service.database.client),
      sealer(Buffer.from(TEST_KEY_ENCRYPTION_KEY, 'hex')),
      { publishLeadSeconds: 0, tokenRetentionSeconds: 660, cookieRetentionSeconds: 3_600 },
    );
    await ring.rotate();
    let fresh = service.token;
    for (let attempt = 0; attempt < 50 && decodeProtectedHeader(fresh).kid === oldKid; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      fresh = (await client.clientCredentialsGrant(service.config, { scope: 'tasks:work' })).access_token;
    }
    assert.notEqual(decodeProtectedHeader(fresh).kid, oldKid, 'the issuer signs with the new key');
    await new Promise((resolve) => setTimeout(resolve, 250)); // past the API's JWKS cooldown
    assert.notEqual((await stack.call('GET', '/worker/tasks/next', fresh)).status, 401);
    assert.notEqual(
      (await stack.call('GET', '/worker/tasks/next', service.token)).status,
      401,
      'tokens of the retired key still verify',
    );
  });

  it("limits each caller's requests per minute and answers 429 with Retry-After", async () => {
    const dir = await temporaryDirectory();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const limited = await startService(
      taskApiService,
      testConfig(dir.path, {
        ISSUER_URL: stack.issuer.url,
        TASK_API_URL: stack.apiUrl,
        TASK_API_RATE_LIMIT_PER_MINUTE: '3',
        LOG_LEVEL: 'silent',
      }),
      { port },
    );
    try {
      const caller = await stack.userToken();
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 4; i += 1) {
        const response = await fetch(`${url}/tasks/mine`, { headers: { authorization: `Bearer ${caller.token}` } });
        statuses.push(response.status);
        if (response.status === 429) retryAfter = response.headers.get('retry-after');
        await response.body?.cancel();
      }
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      assert.ok(Number(retryAfter) > 0 && Number(retryAfter) <= 60);
      const other = await stack.userToken();
      assert.equal(
        (await fetch(`${url}/tasks/mine`, { headers: { authorization: `Bearer ${other.token}` } })).status,
        200,
        'another caller has a budget of its own',
      );
    } finally {
      await limited.stop();
      await dir.remove();
    }
  });

  it('attack: a flood of requests without a valid token from one address is limited (429) before any token is checked', async () => {
    const dir = await temporaryDirectory();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const limited = await startService(
      taskApiService,
      testConfig(dir.path, {
        ISSUER_URL: stack.issuer.url,
        TASK_API_URL: stack.apiUrl,
        TASK_API_IP_RATE_LIMIT_PER_MINUTE: '3',
        LOG_LEVEL: 'silent',
        REDIS_KEY_PREFIX: `latchkey-test:${process.pid}:ip-limit:`,
      }),
      { port },
    );
    try {
      const statuses: number[] = [];
      for (const authorization of [undefined, 'Bearer made.up.token', 'Bearer another.made-up.one', undefined]) {
        const response = await fetch(`${url}/tasks/mine`, { headers: authorization ? { authorization } : {} });
        statuses.push(response.status);
        await response.body?.cancel();
      }
      assert.deepEqual(statuses, [401, 401, 401, 429]);
    } finally {
      await limited.stop();
      await dir.remove();
    }
  });

  it('fails closed: with the issuer unreachable, a token it cannot check is refused (401), never allowed', async () => {
    const dir = await temporaryDirectory();
    const port = await freePort();
    const unreachableIssuer = `http://127.0.0.1:${await freePort()}`;
    const api = await startService(
      { ...taskApiService, buildApp: (dependencies) => buildTaskApiApp(dependencies) },
      testConfig(dir.path, {
        ISSUER_URL: stack.issuer.url,
        ISSUER_INTERNAL_URL: unreachableIssuer,
        TASK_API_URL: stack.apiUrl,
        LOG_LEVEL: 'silent',
      }),
      { port },
    );
    try {
      const caller = await stack.userToken();
      const response = await fetch(`http://127.0.0.1:${port}/tasks/mine`, {
        headers: { authorization: `Bearer ${caller.token}` },
      });
      assert.equal(response.status, 401);
    } finally {
      await api.stop();
      await dir.remove();
    }
  });
});
