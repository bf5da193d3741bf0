import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { RedisCache, createRedisConnection } from '../../src/shared/cache/redis-cache.ts';
import { createLogger } from '../../src/shared/logging/logger.ts';
import { hashId } from '../../src/issuer/oidc/session-index.ts';
import { describeCacheContract } from '../support/cache-contract.ts';
import { REAL_POSTGRES_URL, REAL_REDIS_URL } from '../support/environment.ts';
import { APP_REDIRECT_URI, guessUntilLocked, startIssuer, type IssuerHarness } from '../support/issuer-harness.ts';
import { redisServerAvailable } from '../support/redis-server.ts';
import { startRedisCluster, startRedisSentinel, type RedisTopology } from '../support/redis-topologies.ts';

/**
 * Past one Redis: the same cache contract and the same issuer on a Sentinel-watched primary and on a
 * Redis Cluster, each started here from Debian's redis-server, with a primary killed mid-test.
 * They run where the suite has real stores (the PostgreSQL + Redis pass).
 */
const skip =
  (!REAL_POSTGRES_URL || !REAL_REDIS_URL || !redisServerAvailable()) && 'needs PostgreSQL, Redis and redis-server';
const DEADLINE_MS = 5_000;
const quiet = createLogger({ level: 'silent', format: 'json', name: 'test' });

const topologies: Array<[string, () => Promise<RedisTopology>]> = [
  ['Sentinel', () => startRedisSentinel()],
  ['Cluster', () => startRedisCluster()],
];

for (const [name, start] of topologies) {
  // Started before the contract's cases are declared: the contract opens its cache as it declares them.
  const topology = skip ? undefined : await start();
  describeCacheContract(
    `Redis ${name}`,
    () =>
      new RedisCache(createRedisConnection({ url: topology!.url, keyPrefix: `contract:${process.pid}:`, log: quiet })),
    skip,
  );

  describe(`the issuer on Redis ${name}, through a failover`, { skip }, () => {
    let issuer: IssuerHarness;
    after(async () => {
      await issuer?.stop();
      await topology?.stop();
    });

    before(async () => {
      issuer = await startIssuer({ REDIS_URL: topology!.url, REFRESH_REUSE_GRACE_SECONDS: '60' });
    });

    it('keeps refresh rotation, its grace record and reuse detection, and a lock, answering 2xx or a fast 503 meanwhile', async () => {
      const web = await issuer.createClient({ type: 'web', redirectUris: [APP_REDIRECT_URI], firstParty: true });
      const other = await issuer.createClient({ type: 'web', redirectUris: [APP_REDIRECT_URI], firstParty: true });
      const service = await issuer.createClient({ type: 'service' });
      const config = await issuer.discover(web.id, web.secret);
      const otherConfig = await issuer.discover(other.id, other.secret);
      const user = await issuer.createUser();
      const { callbackUrl, verifier, state } = await issuer.authorize(config, user, { redirect_uri: APP_REDIRECT_URI });
      const first = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      const rotated = await client.refreshTokenGrant(config, first.refresh_token!);
      const victim = await issuer.createUser();
      await guessUntilLocked(issuer, await issuer.discover(web.id, web.secret), victim.email);
      // Replication is asynchronous: give the replica a moment to hold what was just written.
      await new Promise((resolve) => setTimeout(resolve, 300));

      // In a cluster, the primary that holds the grace record made above is the one to lose.
      const graceKey = `latchkey-test:${process.pid}:oidc:refresh-grace:${hashId(first.refresh_token!)}`;
      const killedPort = await topology!.killPrimary(graceKey);
      const basic = `Basic ${Buffer.from(`${service.id}:${service.secret}`).toString('base64')}`;
      const during = await Promise.all(
        [
          () =>
            fetch(`${issuer.url}/token`, {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
              body: 'grant_type=client_credentials',
              signal: AbortSignal.timeout(DEADLINE_MS),
            }),
          () => fetch(`${issuer.url}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(DEADLINE_MS) }),
          () =>
            fetch(`${issuer.url}/account`, {
              headers: { accept: 'text/html' },
              signal: AbortSignal.timeout(DEADLINE_MS),
            }),
        ].map(async (send) => {
          const started = performance.now();
          const response = await send();
          await response.body?.cancel();
          return {
            status: response.status,
            ms: performance.now() - started,
            retryAfter: response.headers.get('retry-after'),
          };
        }),
      );
      for (const answer of during) {
        assert.ok(answer.ms < DEADLINE_MS, JSON.stringify(during));
        assert.ok(answer.status < 500 || (answer.status === 503 && answer.retryAfter), JSON.stringify(during));
      }
      // A sentinel set-up has no primary at all now; a cluster still answers from its other shards.
      if (name === 'Sentinel')
        assert.equal((await fetch(`${issuer.url}/readyz`)).status, 503, 'not ready while the cache has no primary');
      await topology!.promoted(killedPort, graceKey);
      const deadline = Date.now() + 15_000;
      while ((await fetch(`${issuer.url}/readyz`)).status !== 200 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 200));

      // The grace record written before the failover: the client's retry of the first token is answered.
      const retried = await client.refreshTokenGrant(config, first.refresh_token!);
      assert.ok(retried.access_token, 'the retry within the grace window was answered');
      const next = await client.refreshTokenGrant(config, rotated.refresh_token!);
      assert.ok(next.refresh_token && next.refresh_token !== rotated.refresh_token, 'rotation goes on');
      // Another client presenting the used token: reuse, the whole grant ends.
      await assert.rejects(client.refreshTokenGrant(otherConfig, first.refresh_token!));
      await assert.rejects(
        client.refreshTokenGrant(config, next.refresh_token),
        (error: { cause?: { error?: string } }) => error.cause?.error === 'invalid_grant',
      );

      const victimEvents = async () =>
        (await issuer.issuer.events.list({ userId: victim.id })).filter(
          (event) => (event.detail as { reason?: string } | null)?.reason === 'wrong_password',
        ).length;
      const checkedBefore = await victimEvents();
      await assert.rejects(issuer.authorize(config, victim, { redirect_uri: APP_REDIRECT_URI }));
      assert.equal(await victimEvents(), checkedBefore, 'the locked account had no password checked');
    });
  });
}
