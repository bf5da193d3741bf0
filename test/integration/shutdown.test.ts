import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { issuerService } from '../../src/issuer/issuer-service.ts';
import { startService } from '../../src/shared/lifecycle/service.ts';
import { REAL_POSTGRES_URL, REAL_REDIS_URL, TEST_KEY_ENCRYPTION_KEY, temporaryDirectory, testConfig } from '../support/environment.ts';
import { captureLog } from '../support/log-capture.ts';
import { freePort, spawnEntry } from '../support/processes.ts';

describe('graceful shutdown', () => {
  it('finishes a request in flight, then refuses new connections and closes the stores', async () => {
    const dir = await temporaryDirectory();
    const log = captureLog();
    // The same issuer, with one slow route added the way a test builds the app with its own parts.
    const slowIssuer = {
      ...issuerService,
      buildApp: async (dependencies: Parameters<typeof issuerService.buildApp>[0]) => {
        const app = await issuerService.buildApp(dependencies);
        app.use(async (ctx) => {
          if (ctx.path !== '/slow') return;
          await new Promise((resolve) => setTimeout(resolve, 700));
          ctx.body = { finished: true };
        });
        return app;
      },
    };
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const service = await startService(slowIssuer, testConfig(dir.path, { ISSUER_URL: base }), { port, logDestination: log.stream });
    try {
      const inFlight = fetch(`${base}/slow`);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const stopping = service.stop();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await assert.rejects(fetch(`${base}/healthz`), 'no new connections once shutdown began');
      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { finished: true });
      assert.equal(await stopping, true, 'every close step succeeded');
      assert.ok(log.text().includes('"msg":"issuer stopped"'));
    } finally {
      await dir.remove();
    }
  });

  it('stops the issuer process on SIGTERM with exit code 0', async () => {
    const dir = await temporaryDirectory();
    const port = await freePort();
    const issuer = spawnEntry('src/issuer/main.ts', { NODE_ENV: 'test', DATA_DIR: dir.path, ISSUER_PORT: String(port), DATABASE_URL: REAL_POSTGRES_URL, REDIS_URL: REAL_REDIS_URL, KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY });
    try {
      await issuer.waitForOutput(/issuer listening on/);
      issuer.child.kill('SIGTERM');
      assert.deepEqual(await issuer.exited, { code: 0, signal: null });
      assert.match(issuer.output(), /"msg":"issuer stopped"/);
    } finally {
      issuer.child.kill('SIGKILL');
      await dir.remove();
    }
  });
});
