import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkReadiness } from '../../src/shared/http/health.ts';

const ok = { name: 'database', check: async () => {} };

describe('readiness', () => {
  it('is ready when every dependency answers', async () => {
    assert.deepEqual(await checkReadiness({ probes: [ok], timeoutMs: 100, isAcceptingTraffic: () => true }), {
      ready: true,
      checks: { database: 'ok' },
    });
  });

  it('is not ready when a dependency fails', async () => {
    const failing = { name: 'cache', check: () => Promise.reject(new Error('ECONNREFUSED')) };
    assert.deepEqual(await checkReadiness({ probes: [ok, failing], timeoutMs: 100, isAcceptingTraffic: () => true }), {
      ready: false,
      checks: { database: 'ok', cache: 'unavailable' },
    });
  });

  it('is not ready when a dependency does not answer within the timeout', async () => {
    const hanging = { name: 'cache', check: () => new Promise<void>(() => {}) };
    const started = Date.now();
    const report = await checkReadiness({ probes: [hanging], timeoutMs: 50, isAcceptingTraffic: () => true });
    assert.equal(report.ready, false);
    assert.ok(Date.now() - started < 1_000);
  });

  it('is not ready once shutdown has begun, even with healthy dependencies', async () => {
    assert.equal(
      (await checkReadiness({ probes: [ok], timeoutMs: 100, isAcceptingTraffic: () => false })).ready,
      false,
    );
  });
});
