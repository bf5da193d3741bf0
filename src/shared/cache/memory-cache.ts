import type { Cache } from './cache.ts';

interface Entry {
  value: string;
  members?: Set<string>;
  expiresAt: number | undefined;
}

/**
 * An in-process Cache for the embedded mode. Single-threaded JavaScript makes each method atomic
 * as Redis commands are, so the same callers work on both. Expired entries are dropped on read
 * and by a periodic sweep.
 */
export class MemoryCache implements Cache {
  readonly kind = 'memory' as const;
  readonly #entries = new Map<string, Entry>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #now: () => number;

  constructor(options: { now?: () => number; sweepIntervalMs?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 30_000);
    this.#sweeper.unref();
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #expiry(ttlSeconds: number | undefined): number | undefined {
    return ttlSeconds === undefined ? undefined : this.#now() + ttlSeconds * 1000;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries)
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) this.#entries.delete(key);
  }

  async get(key: string): Promise<string | null> {
    return this.#live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlSeconds?: number): Promise<void> {
    this.#entries.set(key, { value, expiresAt: this.#expiry(ttlSeconds) });
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    if (this.#live(key)) return false;
    this.#entries.set(key, { value, expiresAt: this.#expiry(ttlSeconds) });
    return true;
  }

  async take(key: string): Promise<string | null> {
    const entry = this.#live(key);
    this.#entries.delete(key);
    return entry?.value ?? null;
  }

  async delete(...keys: string[]): Promise<void> {
    for (const key of keys) this.#entries.delete(key);
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const entry = this.#live(key);
    const count = (entry ? Number.parseInt(entry.value, 10) : 0) + 1;
    this.#entries.set(key, { value: String(count), expiresAt: entry ? entry.expiresAt : this.#expiry(ttlSeconds) });
    return count;
  }

  async decrement(key: string, by = 1): Promise<number> {
    const entry = this.#live(key);
    if (!entry) return 0;
    const left = Number.parseInt(entry.value, 10) - by;
    if (left <= 0) {
      this.#entries.delete(key);
      return 0;
    }
    entry.value = String(left);
    return left;
  }

  async ttl(key: string): Promise<number | null> {
    const entry = this.#live(key);
    if (!entry || entry.expiresAt === undefined) return null;
    return Math.ceil((entry.expiresAt - this.#now()) / 1000);
  }

  async addToSet(key: string, member: string, ttlSeconds: number): Promise<void> {
    const members = this.#live(key)?.members ?? new Set<string>();
    members.add(member);
    this.#entries.set(key, { value: '', members, expiresAt: this.#expiry(ttlSeconds) });
  }

  async setMembers(key: string): Promise<string[]> {
    return [...(this.#live(key)?.members ?? [])];
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#entries.clear();
  }
}
