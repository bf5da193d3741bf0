import { normalizeEmail } from './email-address.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cache } from '../shared/cache/cache.ts';
import type { LockStore } from './lock-repository.ts';
import { sha256Base64url } from '../shared/crypto/digest.ts';

export interface LockoutSettings {
  maxFailures: number;
  windowSeconds: number;
  baseLockSeconds: number;
  maxLockSeconds: number;
  ipMaxFailures: number;
}

/** Which secret is being checked: each step keeps its own count, so one step is never charged for another's history. */
export type SignInStep = 'password' | 'second_factor';

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
  /** The password unless said otherwise. */
  step?: SignInStep;
}

export type Refusal =
  /** The scope is locked, or the IP has spent its failure budget: refused like a wrong password. */
  | {
      admitted: false;
      reason: 'locked' | 'ip_limited';
      /** Set when this refusal is what locked the account. */ lockedForSeconds?: number;
    }
  /** Too soon after the last failure, or too many checks already in flight: nothing was checked; try again shortly. */
  | { admitted: false; reason: 'throttled' | 'busy'; retryAfterSeconds: number; lockedForSeconds?: undefined };

export type Admission = { admitted: true; ticket: Ticket } | Refusal;

/** What an admitted attempt reserved: one of the scope's check slots, returned on success. */
export interface Ticket {
  scope: string;
  trusted: boolean;
}

const hash = (value: string) => sha256Base64url(value).slice(0, 22);
/** How long an attempt waits for a slot held by checks still in flight before it is told to retry. */
const SLOT_WAIT_MS = 3_000;

const subject = (attempt: Attempt) => attempt.userId ?? `email:${hash(normalizeEmail(attempt.email))}`;
const stepPrefix = (step: SignInStep | undefined) => (step === 'second_factor' ? 'second-factor:' : '');
const scopeOf = (attempt: Attempt) =>
  `${stepPrefix(attempt.step)}${attempt.trustedDeviceId ? `device:${attempt.trustedDeviceId}:${subject(attempt)}` : `account:${subject(attempt)}`}`;
const keys = (scope: string) => ({
  slots: `lockout:count:${scope}`,
  failures: `lockout:failures:${scope}`,
  lock: `lockout:lock:${scope}`,
  wait: `lockout:wait:${scope}`,
  level: `lockout:level:${scope}`,
});
const ipKey = (ip: string) => `lockout:ip:${ip}`;
const accountScopes = (userId: string) =>
  (['password', 'second_factor'] as const).map((step) => `${stepPrefix(step)}account:${userId}`);

/**
 * Lockout that counts failures, not attempts, and cannot be turned against the person it protects,
 * on the cache (atomic in Redis and in process alike):
 * - a scope (the account, or one trusted browser of it, for one sign-in step) has `maxFailures`
 *   check slots per window. A check holds a slot while it runs; a failure keeps it, a success gives
 *   it back and forgives the earlier failures. So twenty parallel guesses check five passwords and
 *   lock once, while ten parallel right passwords all succeed (the later ones wait for a slot);
 * - each failure makes the next attempt wait longer (1, 2, 4... up to 30 s); an attempt during the
 *   wait is not checked and not counted, and is told to try again shortly;
 * - the lock lasts `baseLockSeconds`, doubling for each further lock within a day, capped; while it
 *   holds, attempts are refused like a wrong password (the owner is told by mail);
 * - a browser that signed in to this account before (a valid device cookie) is counted apart: an
 *   attacker's failures cannot lock it out, its own failures throttle only itself, and it is exempt
 *   from the per-IP budget (an office or carrier NAT shared with an attacker does not lock it out);
 * - every other browser's IP has its own failure budget across accounts.
 * Locks are written to PostgreSQL as well (`locks`): when the cache has lost one (a Redis flush or a
 * restart without persistence), the durable copy is found and put back. Counters and the lock
 * history (which doubles the next lock) live in the cache alone: losing them forgets failures, never
 * a lock.
 */
export class Lockout {
  readonly #cache: Cache;
  readonly #locks: LockStore;
  readonly #settings: LockoutSettings;

  constructor(cache: Cache, locks: LockStore, settings: LockoutSettings) {
    this.#cache = cache;
    this.#locks = locks;
    this.#settings = settings;
  }

  async admit(attempt: Attempt): Promise<Admission> {
    const cache = this.#cache;
    const settings = this.#settings;
    const scope = scopeOf(attempt);
    const k = keys(scope);
    const trusted = attempt.trustedDeviceId !== undefined;
    if (!trusted && Number((await cache.get(ipKey(attempt.ip))) ?? 0) >= settings.ipMaxFailures)
      return { admitted: false, reason: 'ip_limited' };
    const deadline = Date.now() + SLOT_WAIT_MS;
    for (;;) {
      const [locked, waitLeft] = await Promise.all([this.#isScopeLocked(scope), cache.ttl(k.wait)]);
      if (locked) return { admitted: false, reason: 'locked' };
      if (waitLeft !== null) return { admitted: false, reason: 'throttled', retryAfterSeconds: Math.max(1, waitLeft) };
      if ((await cache.increment(k.slots, settings.windowSeconds)) <= settings.maxFailures)
        return { admitted: true, ticket: { scope, trusted } };
      // Every slot is held: by failures (a lock is being set) or by checks still running. Wait for them.
      await cache.decrement(k.slots);
      if (Date.now() >= deadline) return { admitted: false, reason: 'busy', retryAfterSeconds: 1 };
      await sleep(40 + Math.floor(Math.random() * 40));
    }
  }

  /** Records a failed check. Returns the lock's length in seconds when this failure locked the scope. */
  async failed(attempt: Attempt, ticket: Ticket): Promise<{ lockedForSeconds: number | undefined }> {
    const { windowSeconds, maxFailures } = this.#settings;
    if (!ticket.trusted) await this.#cache.increment(ipKey(attempt.ip), windowSeconds);
    const k = keys(ticket.scope);
    const failures = await this.#cache.increment(k.failures, windowSeconds);
    if (failures >= maxFailures) return { lockedForSeconds: await this.#lock(ticket.scope) };
    if (failures >= 2) await this.#cache.set(k.wait, '1', Math.min(30, 2 ** (failures - 2)));
    return { lockedForSeconds: undefined };
  }

  /** A right secret: gives the slot back and forgives the scope's earlier failures. */
  async succeeded(ticket: Ticket): Promise<void> {
    const k = keys(ticket.scope);
    const forgiven = Number((await this.#cache.take(k.failures)) ?? 0);
    await Promise.all([this.#cache.decrement(k.slots, 1 + forgiven), this.#cache.delete(k.wait)]);
  }

  /**
   * The whole round for one secret: admit, check, then count the failure or return the slot.
   * True only for a right secret checked within the lockout's rules.
   */
  async check(attempt: Attempt, isRight: () => Promise<boolean>): Promise<boolean> {
    const admission = await this.admit(attempt);
    if (!admission.admitted) return false;
    if (!(await isRight())) {
      await this.failed(attempt, admission.ticket);
      return false;
    }
    await this.succeeded(admission.ticket);
    return true;
  }

  /** An administrator's unlock (or a password reset): clears the account's locks, counters and lock history, every step. */
  async unlock(userId: string): Promise<void> {
    const scopes = accountScopes(userId);
    await this.#locks.clear(scopes);
    await this.#cache.delete(...scopes.flatMap((scope) => Object.values(keys(scope))));
  }

  async isLocked(userId: string): Promise<boolean> {
    const states = await Promise.all(accountScopes(userId).map((scope) => this.#isScopeLocked(scope)));
    return states.some(Boolean);
  }

  /** Locks a scope; only the caller that sets the lock gets its length back (so one notice per lock). */
  async #lock(scope: string): Promise<number | undefined> {
    const k = keys(scope);
    const level = await this.#cache.increment(k.level, 86_400);
    const seconds = Math.min(this.#settings.maxLockSeconds, this.#settings.baseLockSeconds * 2 ** (level - 1));
    if (!(await this.#cache.setIfAbsent(k.lock, String(Date.now()), seconds))) return undefined;
    await this.#locks.save(scope, new Date(Date.now() + seconds * 1000));
    // Counting starts afresh when the lock ends; while it holds, the lock itself refuses.
    await this.#cache.delete(k.slots, k.failures, k.wait);
    return seconds;
  }

  /** Whether the scope is locked: the cache first, then the durable copy, which is put back in the cache. */
  async #isScopeLocked(scope: string): Promise<boolean> {
    const k = keys(scope);
    if ((await this.#cache.get(k.lock)) !== null) return true;
    const until = await this.#locks.lockedUntil(scope);
    if (!until) return false;
    await this.#cache.set(k.lock, String(Date.now()), Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000)));
    return true;
  }
}

export const lockout = (cache: Cache, locks: LockStore, settings: LockoutSettings) =>
  new Lockout(cache, locks, settings);
