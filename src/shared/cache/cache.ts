/**
 * The short-lived key-value store: Redis when REDIS_URL is set, an in-process map otherwise (the
 * single-process embedded mode only). Both implementations pass the same contract tests.
 * Values are strings; callers serialize. Every TTL is in seconds.
 *
 * Not a cache of something kept elsewhere: it is the only home of short-lived state (browser
 * sessions, interactions, authorization and device codes, lockout counters, mailed tokens, DPoP
 * proof ids). Losing it interrupts sign-ins in progress and forgets counters; nothing durable lives
 * only here (grants, refresh tokens and locks are in PostgreSQL). The name stays `Cache` because
 * REDIS_URL, the readiness check and the operators' documents all call it that.
 */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /** Sets only when the key is absent; true when this call set it. The building block for replay detection. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Reads and deletes in one step: of several concurrent callers, exactly one gets the value. */
  take(key: string): Promise<string | null>;
  delete(...keys: string[]): Promise<void>;
  /** Adds one and returns the new count; the TTL starts with the first increment of a window. */
  increment(key: string, ttlSeconds: number): Promise<number>;
  /**
   * Takes `by` back from a counter made by `increment`, keeping its TTL; never below zero (the key
   * is then removed) and never creating a key, so a window that expired meanwhile stays expired.
   */
  decrement(key: string, by?: number): Promise<number>;
  /** Seconds left before the key expires; null when it is absent or has no expiry. */
  ttl(key: string): Promise<number | null>;
  /** Adds a member to a set and (re)starts the set's TTL; used to index records by their grant. */
  addToSet(key: string, member: string, ttlSeconds: number): Promise<void>;
  setMembers(key: string): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
