import type { Middleware } from 'koa';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Cache } from '../../shared/cache/cache.ts';
import { AppError } from '../../shared/http/errors.ts';
import type { AuthenticatedState } from '../auth/authenticate.ts';

/**
 * Requests per minute per caller (a user's `sub` or a service's client_id), counted in Redis so every
 * instance shares the budget (in-process in the embedded mode). Past it: 429 with Retry-After. If
 * Redis itself fails, requests pass and the failure is logged: a limiter outage should not become an
 * API outage, and authorization does not depend on it.
 */
export function rateLimitPerActor(cache: Cache, pointsPerMinute: number): Middleware<AuthenticatedState> {
  const options = { points: pointsPerMinute, duration: 60, keyPrefix: 'rl:task-api' };
  const redis = (cache as { redis?: unknown }).redis;
  const limiter: RateLimiterAbstract = cache.kind === 'redis' && redis ? new RateLimiterRedis({ ...options, storeClient: redis }) : new RateLimiterMemory(options);

  return async (ctx, next) => {
    const { actor } = ctx.state;
    const key = actor.kind === 'user' ? `user:${actor.sub}` : `service:${actor.clientId}`;
    try {
      const result = await limiter.consume(key);
      ctx.set('RateLimit-Remaining', String(result.remainingPoints));
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        throw new AppError(429, 'rate_limited', 'Too many requests; slow down.', { 'Retry-After': String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))) });
      }
      ctx.state.log.warn({ errMessage: (rejection as Error).message }, 'rate limiter unavailable; request allowed');
    }
    await next();
  };
}
