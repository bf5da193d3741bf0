import { RedisCache, createRedisConnection } from '../../src/shared/cache/redis-cache.ts';
import { createLogger } from '../../src/shared/logging/logger.ts';
import { describeCacheContract } from '../support/cache-contract.ts';
import { needsRedis, REAL_REDIS_URL } from '../support/environment.ts';

describeCacheContract(
  'Redis',
  () =>
    new RedisCache(
      createRedisConnection({
        url: REAL_REDIS_URL!,
        keyPrefix: `latchkey-test:${process.pid}:`,
        log: createLogger({ level: 'silent', format: 'json', name: 'test' }),
      }),
    ),
  needsRedis,
);
