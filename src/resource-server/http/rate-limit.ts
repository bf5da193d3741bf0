import type { Context, Middleware } from 'koa';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Cache } from '../../shared/cache/cache.ts';
import { AppError } from '../../shared/http/errors.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import type { AuthenticatedState } from '../../shared/auth/authenticate.ts';

/**
 * A fixed budget of requests per minute per key, counted in Redis so every instance shares it
 * (in-process in the embedded mode). Past it: 429 with Retry-After. If Redis itself fails, requests
 * pass and the failure is logged: a limiter outage should not become an API outage, and
 * authorization does not depend on it.
 */
function rateLimit<State extends RequestState>(
  cache: Cache,
  pointsPerMinute: number,
  keyPrefix: string,
  keyOf: (ctx: Context & { state: State }) => string,
): Middleware<State> {
  const options = { points: pointsPerMinute, duration: 60, keyPrefix };
  const redis = (cache as { redis?: unknown }).redis;
  const limiter: RateLimiterAbstract =
    cache.kind === 'redis' && redis
      ? new RateLimiterRedis({ ...options, storeClient: redis })
      : new RateLimiterMemory(options);

  return async (ctx, next) => {
    try {
      const result = await limiter.consume(keyOf(ctx));
      ctx.set('RateLimit-Remaining', String(result.remainingPoints));
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        throw new AppError(429, 'rate_limited', 'Too many requests; slow down.', {
          'Retry-After': String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))),
        });
      }
      ctx.state.log.warn({ errMessage: (rejection as Error).message }, 'rate limiter unavailable; request allowed');
    }
    await next();
  };
}

/**
 * Per client address, before anything else runs: a flood of requests without a valid token (or with
 * made-up ones) is stopped before any signature is checked or key set fetched.
 */
export const rateLimitPerAddress = (cache: Cache, pointsPerMinute: number): Middleware<RequestState> =>
  rateLimit<RequestState>(cache, pointsPerMinute, 'rl:task-api:ip', (ctx) => ctx.ip);

/** Per caller (a user's `sub` or a service's client_id), once the token is verified. */
export const rateLimitPerActor = (cache: Cache, pointsPerMinute: number): Middleware<AuthenticatedState> =>
  rateLimit<AuthenticatedState>(cache, pointsPerMinute, 'rl:task-api', (ctx) => {
    const { actor } = ctx.state;
    return actor.kind === 'user' ? `user:${actor.sub}` : `service:${actor.clientId}`;
  });
