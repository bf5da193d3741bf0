import type { CacheTarget } from '../config/config.ts';
import type { Logger } from '../logging/logger.ts';
import type { Cache } from './cache.ts';
import { MemoryCache } from './memory-cache.ts';
import { createRedisConnection, RedisCache } from './redis-cache.ts';

export function openCache(target: CacheTarget, log: Logger): Cache {
  if (target.kind === 'memory') return new MemoryCache();
  return new RedisCache(createRedisConnection({ url: target.url, keyPrefix: target.keyPrefix, log }));
}

export function describeCache(target: CacheTarget): string {
  if (target.kind === 'memory') return 'in-process store';
  const url = new URL(target.url);
  return `Redis at ${url.hostname}:${url.port || '6379'}`;
}
