import type { CacheTarget } from '../config/config.ts';
import type { Logger } from '../logging/logger.ts';
import type { Cache } from './cache.ts';
import { connectionFailure, redisUnreachable } from '../lifecycle/unreachable.ts';
import { MemoryCache } from './memory-cache.ts';
import { createRedisConnection, RedisCache } from './redis-cache.ts';
import { describeRedis, parseRedisUrl } from './redis-topology.ts';

export function openCache(target: CacheTarget, log: Logger): Cache {
  if (target.kind === 'memory') return new MemoryCache();
  return new RedisCache(createRedisConnection({ url: target.url, keyPrefix: target.keyPrefix, log }));
}

/**
 * Redis is checked before the process says it is listening: started against a wrong or stopped
 * Redis it would otherwise serve 503s with only /readyz saying why. The answer names REDIS_URL.
 */
export async function cacheReachable(cache: Cache, target: CacheTarget): Promise<void> {
  if (target.kind !== 'redis' || !(cache instanceof RedisCache)) return;
  let reason: string | undefined;
  const remember = (error: unknown) => (reason ??= connectionFailure(error));
  cache.redis.on('error', remember);
  try {
    await cache.ping();
  } catch {
    throw redisUnreachable(target, reason);
  } finally {
    cache.redis.off('error', remember);
  }
}

export function describeCache(target: CacheTarget): string {
  if (target.kind === 'memory') return 'in-process store';
  const topology = parseRedisUrl(target.url);
  return typeof topology === 'string' ? 'Redis' : describeRedis(topology);
}
