import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { issuerService } from '../../src/issuer/issuer-service.ts';
import { startService } from '../../src/shared/lifecycle/service.ts';
import {
  REAL_POSTGRES_URL,
  REAL_REDIS_URL,
  TEST_KEY_ENCRYPTION_KEY,
  temporaryDirectory,
  testConfig,
} from '../support/environment.ts';
import { captureLog } from '../support/log-capture.ts';
import { startSmtpPeer } from '../support/smtp-peer.ts';
import { buildIssuerApp, type IssuerApp } from '../../src/issuer/issuer-app.ts';
import { freePort, spawnEntry } from '../support/processes.ts';

describe('graceful shutdown', () => {
  it('finishes a request in flight, then refuses new connections and closes the stores', async () => {
    const dir = await temporaryDirectory();
    const log = captureLog();
    // The same issuer, with one slow route added the way a test builds the app with its own parts.
    const slowIssuer = {
      ...issuerService,
      buildApp: async (dependencies: Parameters<typeof issuerService.buildApp>[0]) => {
        const built = await issuerService.buildApp(dependencies);
        built.app.use(async (ctx) => {
          if (ctx.path !== '/slow') return;
          await new Promise((resolve) => setTimeout(resolve, 700));
          ctx.body = { finished: true };
        });
        return built;
      },
    };
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const service = await startService(
      slowIssuer,
      testConfig(dir.path, { ISSUER_URL: base, SHUTDOWN_READINESS_DELAY_MS: '400' }),
      { port, logDestination: log.stream },
    );
    try {
      const inFlight = fetch(`${base}/slow`);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const stopping = service.stop();
      await new Promise((resolve) => setTimeout(resolve, 50));
      // During the readiness delay: still answering, but not ready, and closing connections after each response.
      const readiness = await fetch(`${base}/readyz`);
      assert.equal(readiness.status, 503);
      assert.equal(readiness.headers.get('connection'), 'close');
      await readiness.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, 450));
      await assert.rejects(fetch(`${base}/healthz`), 'no new connections once the delay is over');
      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('connection'), 'close', 'a request in flight when the drain began closes too');
      assert.deepEqual(await response.json(), { finished: true });
      assert.equal(await stopping, true, 'every close step succeeded');
      assert.ok(log.text().includes('"msg":"issuer stopped"'));
    } finally {
      await dir.remove();
    }
  });

  it('delivers a mail queued just before shutdown, and nothing the issuer started fires after it stopped', async () => {
    const dir = await temporaryDirectory();
    const log = captureLog();
    const smtp = await startSmtpPeer();
    let issuer!: IssuerApp;
    const port = await freePort();
    const service = await startService(
      {
        ...issuerService,
        buildApp: async (dependencies) => (issuer = await buildIssuerApp(dependencies)),
      },
      testConfig(dir.path, {
        ISSUER_URL: `http://127.0.0.1:${port}`,
        SMTP_URL: smtp.url,
        // The key reload would fire twice during the wait below if stopping left its timer behind.
        KEY_RELOAD_INTERVAL_SECONDS: '0.2',
        LOG_LEVEL: 'info',
      }),
      { port, logDestination: log.stream },
    );
    try {
      issuer.mailer.send({
        kind: 'password_reset',
        to: 'owner@example.com',
        subject: 'Last words',
        text: 'queued at SIGTERM',
      });
      assert.equal(await service.stop(), true);
      assert.equal(
        smtp.messages.filter((mail) => mail.raw.includes('queued at SIGTERM')).length,
        1,
        'delivered before the stores closed',
      );
      const linesAtStop = log.text().split('\n').length;
      await new Promise((resolve) => setTimeout(resolve, 700));
      const after = log
        .text()
        .split('\n')
        .slice(linesAtStop - 1)
        .filter(Boolean);
      assert.deepEqual(after, [], 'no log line (a key reload, a sweep) after "issuer stopped"');
      assert.doesNotMatch(log.text(), /PGlite is closed|could not reload signing keys|scheduled key rotation failed/);
    } finally {
      await smtp.close();
      await dir.remove();
    }
  });

  it('drains under keep-alive load on SIGTERM: /readyz says 503, responses close their connections, and the process exits in under 2 s', async () => {
    const dir = await temporaryDirectory();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const issuer = spawnEntry('src/issuer/main.ts', {
      NODE_ENV: 'test',
      DATA_DIR: dir.path,
      ISSUER_URL: base,
      ISSUER_PORT: String(port),
      DATABASE_URL: REAL_POSTGRES_URL,
      REDIS_URL: REAL_REDIS_URL,
      KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY,
      SHUTDOWN_READINESS_DELAY_MS: '500',
    });
    try {
      await issuer.waitForOutput(/issuer listening on/);
      // Keep-alive load: fetch reuses its connections.
      let running = true;
      const seen: Array<{ status: number; connection: string | null; at: number }> = [];
      const load = (async () => {
        while (running) {
          try {
            const response = await fetch(`${base}/readyz`);
            seen.push({
              status: response.status,
              connection: response.headers.get('connection'),
              at: performance.now(),
            });
            await response.body?.cancel();
          } catch {
            // A connection closed between two requests, or the listener gone: a client would retry elsewhere.
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const signalled = performance.now();
      issuer.child.kill('SIGTERM');
      const exit = await issuer.exited;
      const exitedAfter = performance.now() - signalled;
      running = false;
      await load;
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(exitedAfter < 2_000, `exited ${Math.round(exitedAfter)} ms after SIGTERM`);
      // The drain begins when the process handles the signal, which a busy machine may deliver late:
      // from the first 503 on, every answer is a 503 that closes its connection.
      const drainBegan = seen.findIndex((entry) => entry.status === 503);
      assert.ok(drainBegan >= 0, 'requests were answered during the drain');
      assert.ok(
        seen[drainBegan]!.at - signalled < 500,
        `the drain began ${Math.round(seen[drainBegan]!.at - signalled)} ms after SIGTERM`,
      );
      const during = seen.slice(drainBegan);
      assert.ok(
        during.every((entry) => entry.status === 503 && entry.connection === 'close'),
        JSON.stringify(during.slice(0, 3)),
      );
      assert.ok(seen.slice(0, drainBegan).every((entry) => entry.status === 200));
    } finally {
      issuer.child.kill('SIGKILL');
      await dir.remove();
    }
  });

  it('stops the issuer process on SIGTERM with exit code 0', async () => {
    const dir = await temporaryDirectory();
    const port = await freePort();
    const issuer = spawnEntry('src/issuer/main.ts', {
      NODE_ENV: 'test',
      DATA_DIR: dir.path,
      ISSUER_PORT: String(port),
      DATABASE_URL: REAL_POSTGRES_URL,
      REDIS_URL: REAL_REDIS_URL,
      KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY,
    });
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
