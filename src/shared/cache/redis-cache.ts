import { Cluster, Redis } from 'ioredis';
import { describeRedis, parseRedisUrl } from './redis-topology.ts';
import type { Logger } from '../logging/logger.ts';
import type { Cache } from './cache.ts';

/** INCR that sets the window's expiry only on the first hit, in one round trip and atomically. */
const INCREMENT_WITH_WINDOW = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count`;

/** DECRBY that never creates the key, never goes below zero and keeps the window's expiry. */
const DECREMENT_IN_WINDOW = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local left = tonumber(current) - tonumber(ARGV[1])
if left <= 0 then redis.call('DEL', KEYS[1]) return 0 end
redis.call('SET', KEYS[1], left, 'KEEPTTL')
return left`;

export interface RedisCacheOptions {
  url: string;
  keyPrefix: string;
  log: Logger;
}

/** ioredis's client for one server or a Sentinel-watched primary, or its Cluster client. */
export type RedisClient = Redis | Cluster;

/**
 * Creates the ioredis connection with bounded waits: a command never hangs longer than
 * commandTimeout, reconnection backs off to 2 s and never gives up, and a failover's READONLY
 * reply triggers a reconnect to the new primary. With sentinels, the client asks them where the
 * primary is and follows a switch as soon as they announce it; with a cluster, it follows the slot
 * map (MOVED/ASK) and re-reads it when a primary fails.
 */
/** Reconnection, sentinel and cluster-map retries alike: doubling from 100 ms, never above 2 s, never giving up. */
const backoff = (attempt: number) => Math.min(100 * 2 ** attempt, 2_000);

export function createRedisConnection({ url, keyPrefix, log }: RedisCacheOptions): RedisClient {
  const topology = parseRedisUrl(url);
  if (typeof topology === 'string') throw new Error(`REDIS_URL ${topology}`);
  const common = {
    keyPrefix,
    connectTimeout: 5_000,
    commandTimeout: 2_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: backoff,
    reconnectOnError: (error: Error) => error.message.startsWith('READONLY'),
    ...(topology.username ? { username: topology.username } : {}),
    ...(topology.password ? { password: topology.password } : {}),
    ...(topology.tls ? { tls: {} } : {}),
  };
  const redis: RedisClient =
    topology.kind === 'single'
      ? new Redis(url, common)
      : topology.kind === 'sentinel'
        ? new Redis({
            ...common,
            sentinels: topology.sentinels,
            name: topology.name,
            db: topology.db,
            sentinelRetryStrategy: backoff,
            // Subscribes to the sentinels' +switch-master: the client moves before a command fails on the old primary.
            failoverDetector: true,
          })
        : new Cluster(topology.nodes, {
            redisOptions: common,
            keyPrefix,
            enableOfflineQueue: true,
            // Failing over takes the cluster about its node timeout; re-read the slot map meanwhile.
            clusterRetryStrategy: backoff,
            retryDelayOnFailover: 200,
            retryDelayOnClusterDown: 200,
            slotsRefreshTimeout: 2_000,
          });
  let connected = false;
  redis.on('ready', () => {
    if (!connected) log.info({ cache: describeRedis(topology) }, 'cache connected');
    connected = true;
  });
  // ioredis emits an error per reconnection attempt; say it once per outage.
  redis.on('error', (error: Error) => {
    if (connected) log.warn({ errMessage: error.message }, 'cache connection lost; reconnecting');
    connected = false;
  });
  redis.on('end', () => {
    connected = false;
  });
  return redis;
}

export class RedisCache implements Cache {
  readonly kind = 'redis' as const;
  readonly redis: RedisClient;

  constructor(redis: RedisClient) {
    this.redis = redis;
    redis.defineCommand('latchkeyIncrement', { numberOfKeys: 1, lua: INCREMENT_WITH_WINDOW });
    redis.defineCommand('latchkeyDecrement', { numberOfKeys: 1, lua: DECREMENT_IN_WINDOW });
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  async set(key: string, value: string, ttlSeconds?: number): Promise<void> {
    if (ttlSeconds === undefined) await this.redis.set(key, value);
    else await this.redis.set(key, value, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    return (await this.redis.set(key, value, 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX')) === 'OK';
  }

  async take(key: string): Promise<string | null> {
    return this.redis.getdel(key);
  }

  async delete(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    // A cluster refuses one DEL over keys in different slots; each key alone is deleted where it lives.
    if (this.redis instanceof Cluster) await Promise.all(keys.map((key) => this.redis.del(key)));
    else await this.redis.del(...keys);
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const scripted = this.redis as unknown as { latchkeyIncrement: (key: string, ttl: number) => Promise<number> };
    return scripted.latchkeyIncrement(key, Math.max(1, Math.ceil(ttlSeconds)));
  }

  async decrement(key: string, by = 1): Promise<number> {
    const scripted = this.redis as unknown as { latchkeyDecrement: (key: string, by: number) => Promise<number> };
    return scripted.latchkeyDecrement(key, by);
  }

  async ttl(key: string): Promise<number | null> {
    const seconds = await this.redis.ttl(key);
    return seconds >= 0 ? seconds : null;
  }

  async addToSet(key: string, member: string, ttlSeconds: number): Promise<void> {
    await this.redis
      .multi()
      .sadd(key, member)
      .expire(key, Math.max(1, Math.ceil(ttlSeconds)))
      .exec();
  }

  async setMembers(key: string): Promise<string[]> {
    return this.redis.smembers(key);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      // Already disconnected: nothing left to flush.
      this.redis.disconnect();
    }
  }
}
