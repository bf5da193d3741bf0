import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { issuerService } from '../../src/issuer/issuer-service.ts';
import { taskApiService } from '../../src/resource-server/task-api-service.ts';
import { startService, type RunningService } from '../../src/shared/lifecycle/service.ts';
import type { PrismaLike } from '../../src/shared/database/connection.ts';
import { temporaryDirectory, testConfig } from '../support/environment.ts';
import { captureLog } from '../support/log-capture.ts';
import { freePort } from '../support/processes.ts';

for (const definition of [issuerService, taskApiService] as const) {
  describe(`${definition.name} over HTTP`, () => {
    const log = captureLog();
    let service: RunningService<PrismaLike>;
    let base: string;
    let dataDir: Awaited<ReturnType<typeof temporaryDirectory>>;

    before(async () => {
      dataDir = await temporaryDirectory();
      // The issuer answers only at ISSUER_URL's host: give it the address the test calls.
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      service = await startService(definition as never, testConfig(dataDir.path, { ISSUER_URL: base }), {
        port,
        logDestination: log.stream,
      });
    });
    after(async () => {
      await service.stop();
      await dataDir.remove();
    });

    it('answers /healthz with 200', async () => {
      const response = await fetch(`${base}/healthz`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: 'ok' });
    });

    it('answers /readyz with 200 when the database and cache are reachable', async () => {
      const response = await fetch(`${base}/readyz`);
      assert.equal(response.status, 200);
      const body = (await response.json()) as { status: string; checks: unknown; details?: Record<string, string> };
      assert.deepEqual(
        { status: body.status, checks: body.checks },
        { status: 'ready', checks: { database: 'ok', cache: 'ok' } },
      );
      // States that inform without deciding readiness: the issuer's mail, the task API's copy of the issuer's keys.
      assert.deepEqual(body.details, definition.name === 'issuer' ? { mail: 'ok' } : { issuer_keys: 'not_fetched' });
      assert.equal(response.headers.get('cache-control'), 'no-store');
    });

    it('answers an unknown route with 404 in the error envelope', async () => {
      const response = await fetch(`${base}/no/such/route`);
      assert.equal(response.status, 404);
      const body = (await response.json()) as { error: { code: string; message: string; requestId: string } };
      assert.equal(body.error.code, 'not_found');
      assert.equal(body.error.requestId, response.headers.get('x-request-id'));
    });

    it('echoes a well-formed inbound X-Request-Id and uses it in the log', async () => {
      const response = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'trace-0123456789' } });
      assert.equal(response.headers.get('x-request-id'), 'trace-0123456789');
      await response.body?.cancel();
    });

    it('replaces a malformed inbound X-Request-Id', async () => {
      const response = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
      assert.notEqual(response.headers.get('x-request-id'), 'bad id with spaces');
      await response.body?.cancel();
    });

    it('leaves no trace of an Authorization header or a password field in the log', async () => {
      const response = await fetch(`${base}/no/such/route?probe=1`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer tkn-5f1e2d3c4b5a',
          'content-type': 'application/x-www-form-urlencoded',
          'x-request-id': 'redaction-check-1',
        },
        body: 'email=alice%40example.com&password=pw-9a8b7c6d5e4f',
      });
      assert.equal(response.status, 404);
      await response.body?.cancel();
      const text = log.text();
      assert.ok(text.includes('redaction-check-1'), 'the request was logged');
      assert.ok(!text.includes('tkn-5f1e2d3c4b5a'), 'no token in the log');
      assert.ok(!text.includes('pw-9a8b7c6d5e4f'), 'no password in the log');
      assert.ok(!text.includes('probe=1'), 'no query string in the log');
    });
  });
}
