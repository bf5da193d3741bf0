import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { issuerService } from '../../src/issuer/issuer-service.ts';
import { startService } from '../../src/shared/lifecycle/service.ts';
import {
  needsPostgres,
  needsRedis,
  REAL_POSTGRES_URL,
  REAL_REDIS_URL,
  temporaryDirectory,
  testConfig,
} from '../support/environment.ts';
import { waitForStatus } from '../support/http.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';

/**
 * Each case puts a loopback proxy between the issuer and one real dependency, cuts it, and
 * watches /readyz go 503 and come back to 200 when the proxy is restored.
 */
async function readinessFollows(dependency: 'database' | 'cache'): Promise<void> {
  const realUrl = new URL(dependency === 'database' ? REAL_POSTGRES_URL! : REAL_REDIS_URL!);
  const proxy = await startTcpProxy(
    realUrl.hostname,
    Number(realUrl.port || (dependency === 'database' ? 5432 : 6379)),
  );
  const proxiedUrl = new URL(realUrl);
  proxiedUrl.hostname = '127.0.0.1';
  proxiedUrl.port = String(proxy.port);
  const dir = await temporaryDirectory();
  const service = await startService(
    issuerService,
    testConfig(dir.path, {
      [dependency === 'database' ? 'DATABASE_URL' : 'REDIS_URL']: proxiedUrl.toString(),
      READINESS_TIMEOUT_MS: '500',
      LOG_LEVEL: 'silent',
    }),
    { port: 0 },
  );
  const readyz = `http://127.0.0.1:${service.port}/readyz`;
  try {
    await waitForStatus(readyz, 200, 5_000);
    await proxy.cut();
    await waitForStatus(readyz, 503, 10_000);
    const body = (await (await fetch(readyz)).json()) as { checks: Record<string, string> };
    assert.equal(body.checks[dependency], 'unavailable');
    assert.equal(body.checks[dependency === 'database' ? 'cache' : 'database'], 'ok');
    await proxy.restore();
    await waitForStatus(readyz, 200, 15_000);
  } finally {
    await proxy.close();
    await service.stop();
    await dir.remove();
  }
}

describe('readiness against real dependencies', () => {
  it('turns 503 when PostgreSQL becomes unreachable and 200 when it returns', { skip: needsPostgres }, () =>
    readinessFollows('database'),
  );
  it('turns 503 when Redis becomes unreachable and 200 when it returns', { skip: needsRedis }, () =>
    readinessFollows('cache'),
  );
});
