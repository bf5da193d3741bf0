import Koa, { type Middleware } from 'koa';
import type { Config } from '../config/config.ts';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { healthRoutes, type ReadinessProbe } from './health.ts';
import { requestContext, type RequestState } from './request-context.ts';

export interface BaseAppOptions {
  config: Config;
  log: Logger;
  database: { ping(): Promise<void> };
  cache: { ping(): Promise<void> };
  isAcceptingTraffic: () => boolean;
  /** Shown in /readyz without deciding readiness. */
  details?: Record<string, () => string>;
  metrics: Metrics;
  /** The metrics' route label of a path no router matched (the issuer's provider endpoints). */
  routeOf?: (path: string) => string | undefined;
  /**
   * Answers given inside the metrics but before the request context: fixed bytes that need no
   * request logger or error envelope (they must not throw), on paths many clients poll.
   */
  ahead?: Middleware<RequestState>[];
}

/**
 * The koa app every Latchkey process starts from: request context, error envelope, and health routes
 * whose readiness asks the process's database and cache.
 */
export function createBaseApp({
  config,
  log,
  database,
  cache,
  isAcceptingTraffic,
  details,
  metrics,
  routeOf,
  ahead = [],
}: BaseAppOptions): Koa<RequestState> {
  const probes: ReadinessProbe[] = [
    { name: 'database', check: () => database.ping() },
    { name: 'cache', check: () => cache.ping() },
  ];
  // Behind N proxies, the client's address is the Nth from the right of X-Forwarded-For: the one the
  // outermost trusted proxy saw. Entries further left were written by the client and are ignored.
  const app = new Koa<RequestState>({ proxy: config.http.proxyHops > 0, maxIpsCount: config.http.proxyHops });
  // koa would print errors to stderr on its own; requestContext has already logged what matters.
  app.silent = true;
  // Outermost, so it sees the status the error envelope settled on.
  app.use(metrics.httpMiddleware(routeOf));
  for (const middleware of ahead) app.use(middleware);
  app.use(requestContext(log));
  const health = healthRoutes({
    probes,
    timeoutMs: config.http.readinessTimeoutMs,
    isAcceptingTraffic,
    ...(details ? { details } : {}),
  });
  app.use(health.routes());
  return app;
}
