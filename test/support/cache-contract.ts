import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Cache } from '../../src/shared/cache/cache.ts';

/**
 * The behaviour every Cache must have. The in-process store and Redis run the same cases, so the
 * embedded mode cannot drift from what production relies on.
 */
export function describeCacheContract(name: string, open: () => Cache, skip: string | false = false): void {
  describe(`${name} cache contract`, { skip }, () => {
    const cache = skip ? undefined : open();
    const key = () => `contract:${randomUUID()}`;
    after(async () => cache?.close());

    it('returns null for a key never set', async () => {
      assert.equal(await cache!.get(key()), null);
    });

    it('returns what was set', async () => {
      const k = key();
      await cache!.set(k, 'value');
      assert.equal(await cache!.get(k), 'value');
    });

    it('forgets a value once its TTL has passed', async () => {
      const k = key();
      await cache!.set(k, 'short-lived', 1);
      assert.equal(await cache!.get(k), 'short-lived');
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      assert.equal(await cache!.get(k), null);
    });

    it('sets only the first of several setIfAbsent calls', async () => {
      const k = key();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => cache!.setIfAbsent(k, String(i), 60)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('gives a value to exactly one of twenty concurrent takers', async () => {
      const k = key();
      await cache!.set(k, 'once', 60);
      const taken = await Promise.all(Array.from({ length: 20 }, () => cache!.take(k)));
      assert.deepEqual(
        taken.filter((v) => v !== null),
        ['once'],
      );
      assert.equal(await cache!.get(k), null);
    });

    it('counts concurrent increments exactly and starts the window on the first', async () => {
      const k = key();
      const counts = await Promise.all(Array.from({ length: 25 }, () => cache!.increment(k, 60)));
      assert.deepEqual(
        [...counts].sort((a, b) => a - b),
        Array.from({ length: 25 }, (_, i) => i + 1),
      );
      const ttl = await cache!.ttl(k);
      assert.ok(ttl !== null && ttl > 55 && ttl <= 60, `ttl ${ttl}`);
    });

    it('takes a count back without creating, reviving or going below zero, keeping the window', async () => {
      const k = key();
      assert.equal(await cache!.decrement(k), 0);
      assert.equal(await cache!.get(k), null, 'a missing counter is not created');
      await Promise.all(Array.from({ length: 5 }, () => cache!.increment(k, 60)));
      assert.equal(await cache!.decrement(k, 2), 3);
      const ttl = await cache!.ttl(k);
      assert.ok(ttl !== null && ttl > 55, `ttl kept: ${ttl}`);
      assert.equal(await cache!.decrement(k, 10), 0);
      assert.equal(await cache!.get(k), null);
    });

    it('deletes several keys at once', async () => {
      const [a, b] = [key(), key()];
      await cache!.set(a, '1');
      await cache!.set(b, '2');
      await cache!.delete(a, b);
      assert.deepEqual([await cache!.get(a), await cache!.get(b)], [null, null]);
    });

    it('collects set members and forgets the set with its TTL', async () => {
      const k = key();
      await Promise.all(['a', 'b', 'a', 'c'].map((member) => cache!.addToSet(k, member, 1)));
      assert.deepEqual((await cache!.setMembers(k)).sort(), ['a', 'b', 'c']);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      assert.deepEqual(await cache!.setMembers(k), []);
    });

    it('answers a ping', async () => {
      await cache!.ping();
    });
  });
}
