import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { LockStore } from '../../src/accounts/lock-repository.ts';
import { lockout, type Attempt } from '../../src/accounts/lockout.ts';
import { MemoryCache } from '../../src/shared/cache/memory-cache.ts';

const SETTINGS = {
  maxFailures: 5,
  windowSeconds: 900,
  baseLockSeconds: 900,
  maxLockSeconds: 86_400,
  ipMaxFailures: 30,
};

/** The durable lock store, in memory: what the PostgreSQL table does, for the rule's own tests. */
function memoryLocks(): LockStore {
  const rows = new Map<string, Date>();
  return {
    save: async (scope, until) => void rows.set(scope, until),
    lockedUntil: async (scope) => ((rows.get(scope)?.getTime() ?? 0) > Date.now() ? rows.get(scope) : undefined),
    clear: async (scopes) => scopes.forEach((scope) => rows.delete(scope)),
  };
}

describe('lockout', () => {
  let cache = new MemoryCache();
  let locks = memoryLocks();
  afterEach(async () => {
    await cache.close();
    cache = new MemoryCache();
    locks = memoryLocks();
  });
  const attempt = (overrides: Partial<Attempt> = {}): Attempt => ({
    userId: 'user-1',
    email: 'a@example.com',
    ip: '192.0.2.1',
    trustedDeviceId: undefined,
    ...overrides,
  });

  /** Runs one check through the lockout: admitted, then the secret is right or wrong. */
  async function check(
    guard: ReturnType<typeof lockout>,
    who: Attempt,
    right: boolean,
    work = () => new Promise((resolve) => setTimeout(resolve, 20)),
  ) {
    const admission = await guard.admit(who);
    if (!admission.admitted) return admission.reason;
    await work();
    if (right) {
      await guard.succeeded(admission.ticket);
      return 'success';
    }
    await guard.failed(who, admission.ticket);
    return 'wrong';
  }

  it('lets ten parallel right passwords for one account all succeed', async () => {
    const guard = lockout(cache, locks, SETTINGS);
    const results = await Promise.all(Array.from({ length: 10 }, () => check(guard, attempt(), true)));
    assert.deepEqual(results, Array(10).fill('success'));
  });

  it('checks only five of twenty parallel wrong passwords and locks once', async () => {
    const guard = lockout(cache, locks, SETTINGS);
    const results = await Promise.all(Array.from({ length: 20 }, () => check(guard, attempt(), false)));
    assert.equal(results.filter((result) => result === 'wrong').length, 5);
    assert.equal(results.filter((result) => result === 'locked').length, 15);
    assert.equal(await guard.isLocked('user-1'), true);
  });

  it('does not count an attempt refused during the wait after a failure, and says when to retry', async () => {
    const guard = lockout(cache, locks, SETTINGS);
    await Promise.all([check(guard, attempt(), false), check(guard, attempt(), false)]);
    const refused = await guard.admit(attempt());
    assert.equal(refused.admitted, false);
    assert.equal(!refused.admitted && refused.reason, 'throttled');
    assert.ok(!refused.admitted && refused.reason === 'throttled' && refused.retryAfterSeconds >= 1);
    for (let i = 0; i < 10; i += 1) await guard.admit(attempt());
    assert.equal(await guard.isLocked('user-1'), false, 'hammering during the wait does not lock the account');
  });

  it('forgives earlier failures after a right password', async () => {
    const guard = lockout(cache, locks, SETTINGS);
    await Promise.all(Array.from({ length: 4 }, () => check(guard, attempt(), false)));
    await cache.delete('lockout:wait:account:user-1');
    assert.equal(await check(guard, attempt(), true), 'success');
    await Promise.all(Array.from({ length: 4 }, () => check(guard, attempt(), false)));
    assert.equal(await guard.isLocked('user-1'), false, 'four more failures are four, not eight');
  });

  it('counts the second factor apart from the password: four password typos do not charge the code', async () => {
    const guard = lockout(cache, locks, SETTINGS);
    await Promise.all(Array.from({ length: 4 }, () => check(guard, attempt(), false)));
    assert.equal(await check(guard, attempt({ step: 'second_factor' }), true), 'success');
  });

  it('keeps a trusted browser out of the per-IP budget that an attacker on the same address spent', async () => {
    const guard = lockout(cache, locks, { ...SETTINGS, ipMaxFailures: 3 });
    await Promise.all(['x', 'y', 'z', 'w'].map((userId) => check(guard, attempt({ userId }), false)));
    assert.equal(await check(guard, attempt(), true), 'ip_limited', 'an unknown browser on that address is stopped');
    assert.equal(await check(guard, attempt({ trustedDeviceId: 'device-1' }), true), 'success');
  });

  it('finds a lock the cache lost in the durable store, and puts it back', async () => {
    const guard = lockout(cache, locks, SETTINGS);
    await Promise.all(Array.from({ length: 5 }, () => check(guard, attempt(), false)));
    await cache.close();
    cache = new MemoryCache();
    const afterLoss = lockout(cache, locks, SETTINGS);
    assert.equal(await check(afterLoss, attempt(), true), 'locked');
    assert.ok(await cache.get('lockout:lock:account:user-1'));
  });

  it('unlocks every step of an account', async () => {
    const guard = lockout(cache, locks, SETTINGS);
    await Promise.all(Array.from({ length: 5 }, () => check(guard, attempt({ step: 'second_factor' }), false)));
    assert.equal(await guard.isLocked('user-1'), true);
    await guard.unlock('user-1');
    assert.equal(await guard.isLocked('user-1'), false);
    assert.equal(await check(guard, attempt({ step: 'second_factor' }), true), 'success');
  });
});
