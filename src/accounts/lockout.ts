import type { Cache } from '../shared/cache/cache.ts';
import { sha256Base64url } from '../shared/crypto/digest.ts';

export interface LockoutSettings {
  maxFailures: number;
  windowSeconds: number;
  baseLockSeconds: number;
  maxLockSeconds: number;
  ipMaxFailures: number;
}

/**
 * Who is trying: the account (or, for an email we do not know, a stand-in derived from it, so
 * unknown and known emails behave alike), the client's IP, and, when the browser carries a valid
 * device cookie for this account, that device.
 */
export interface Attempt {
  userId: string | undefined;
  email: string;
  ip: string;
  trustedDeviceId: string | undefined;
}

export type Admission =
  | { admitted: true; ticket: Ticket }
  | { admitted: false; reason: 'locked' | 'throttled' | 'ip_limited'; /** Set when this refusal is what locked the account. */ lockedForSeconds?: number };

/** What an admitted attempt reserved: its place in the count, which decides whether its failure locks. */
export interface Ticket {
  scope: string;
  count: number;
}

const hash = (value: string) => sha256Base64url(value).slice(0, 22);

/**
 * Lockout that cannot be turned against the person it protects, on the cache (atomic in Redis and in
 * process alike):
 * - each attempt first takes a numbered place (INCR); only the first `maxFailures` places in a window
 *   are checked at all, so twenty parallel guesses check five passwords and lock once;
 * - each failure makes the next attempt wait longer (1, 2, 4... up to 30 s); attempts during the wait
 *   are refused without being checked, and count as failures;
 * - the lock lasts `baseLockSeconds`, doubling for each further lock within a day, capped;
 * - a browser that signed in to this account before (a valid device cookie) is counted apart: an
 *   attacker's failures cannot lock it out, and its own failures throttle only itself;
 * - every IP has its own budget across accounts.
 * Refusals look exactly like a wrong password to the caller.
 */
export function lockout(cache: Cache, settings: LockoutSettings) {
  const subject = (attempt: Attempt) => attempt.userId ?? `email:${hash(attempt.email.trim().toLowerCase())}`;
  const scopeOf = (attempt: Attempt) => (attempt.trustedDeviceId ? `device:${attempt.trustedDeviceId}:${subject(attempt)}` : `account:${subject(attempt)}`);
  const keys = (scope: string) => ({ count: `lockout:count:${scope}`, lock: `lockout:lock:${scope}`, wait: `lockout:wait:${scope}`, level: `lockout:level:${scope}` });
  const ipKey = (ip: string) => `lockout:ip:${ip}`;

  /** Locks a scope; only the caller that sets the lock gets its length back (so one notice per lock). */
  async function lock(scope: string): Promise<number | undefined> {
    const k = keys(scope);
    const level = await cache.increment(k.level, 86_400);
    const seconds = Math.min(settings.maxLockSeconds, settings.baseLockSeconds * 2 ** (level - 1));
    if (!(await cache.setIfAbsent(k.lock, String(Date.now()), seconds))) return undefined;
    // Counting starts afresh when the lock ends; while it holds, the lock itself refuses.
    await cache.delete(k.count, k.wait);
    return seconds;
  }

  return {
    async admit(attempt: Attempt): Promise<Admission> {
      const scope = scopeOf(attempt);
      const k = keys(scope);
      const [ipFailures, locked] = await Promise.all([cache.get(ipKey(attempt.ip)), cache.get(k.lock)]);
      if (Number(ipFailures ?? 0) >= settings.ipMaxFailures) return { admitted: false, reason: 'ip_limited' };
      if (locked !== null) return { admitted: false, reason: 'locked' };
      const count = await cache.increment(k.count, settings.windowSeconds);
      if (count > settings.maxFailures) return { admitted: false, reason: 'locked' };
      if ((await cache.get(k.wait)) !== null) {
        await cache.increment(ipKey(attempt.ip), settings.windowSeconds);
        const lockedForSeconds = count === settings.maxFailures ? await lock(scope) : undefined;
        return lockedForSeconds === undefined ? { admitted: false, reason: 'throttled' } : { admitted: false, reason: 'throttled', lockedForSeconds };
      }
      return { admitted: true, ticket: { scope, count } };
    },

    /** Records a failed check. Returns the lock's length in seconds when this failure locked the account. */
    async failed(attempt: Attempt, ticket: Ticket): Promise<{ lockedForSeconds: number | undefined }> {
      await cache.increment(ipKey(attempt.ip), settings.windowSeconds);
      if (ticket.count >= settings.maxFailures) return { lockedForSeconds: await lock(ticket.scope) };
      if (ticket.count >= 2) await cache.set(keys(ticket.scope).wait, '1', Math.min(30, 2 ** (ticket.count - 2)));
      return { lockedForSeconds: undefined };
    },

    async succeeded(ticket: Ticket): Promise<void> {
      const k = keys(ticket.scope);
      await cache.delete(k.count, k.wait);
    },

    /** An administrator's unlock: clears the account's lock, counters and lock history. */
    async unlock(userId: string): Promise<void> {
      const k = keys(`account:${userId}`);
      await cache.delete(k.count, k.lock, k.wait, k.level);
    },

    async isLocked(userId: string): Promise<boolean> {
      return (await cache.get(keys(`account:${userId}`).lock)) !== null;
    },
  };
}

export type Lockout = ReturnType<typeof lockout>;
