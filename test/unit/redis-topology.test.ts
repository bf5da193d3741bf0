import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRedis, parseRedisUrl } from '../../src/shared/cache/redis-topology.ts';

describe('REDIS_URL topologies', () => {
  it('reads one server from a redis:// URL, with its credentials', () => {
    assert.deepEqual(parseRedisUrl('redis://app:s%40cret@cache.internal:6380/2'), {
      kind: 'single',
      url: 'redis://app:s%40cret@cache.internal:6380/2',
      tls: false,
      username: 'app',
      password: 's@cret',
    });
  });

  it('reads the sentinels, the primary name and the database from a redis-sentinel:// URL', () => {
    assert.deepEqual(parseRedisUrl('redis-sentinel://:pw@10.0.0.1:26379,10.0.0.2:26379,[::1]:26380/mymaster/3'), {
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'mymaster',
      db: 3,
      tls: false,
      password: 'pw',
    });
  });

  it('reads the seed nodes of a cluster, with TLS for rediss-cluster://', () => {
    assert.deepEqual(parseRedisUrl('rediss-cluster://a:7000,b:7001'), {
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
      tls: true,
    });
  });

  it('refuses what it cannot connect to, in words, without repeating a password', () => {
    const refusals = [
      'http://cache:6379',
      'redis-sentinel://a:26379',
      'redis-sentinel://a:26379/mymaster/x',
      'redis-cluster://a:7000/1',
      'redis-cluster://:hunter2@a',
      'redis-cluster://a:99999',
    ].map(parseRedisUrl);
    for (const refusal of refusals) {
      if (typeof refusal !== 'string') assert.fail(`accepted: ${JSON.stringify(refusal)}`);
      assert.doesNotMatch(refusal, /hunter2/);
    }
  });

  it('describes where the cache is without its credentials', () => {
    const sentinel = parseRedisUrl('redis-sentinel://u:secret@a:1,b:2/main');
    assert.ok(typeof sentinel !== 'string');
    assert.equal(describeRedis(sentinel), 'Redis primary "main" through the sentinels a:1, b:2');
    const single = parseRedisUrl('redis://u:secret@h:7/0');
    assert.ok(typeof single !== 'string');
    assert.equal(describeRedis(single), 'Redis at h:7');
  });
});
