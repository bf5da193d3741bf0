import Koa from 'koa';
import type { Config } from '../config/config.ts';
import type { Logger } from '../logging/logger.ts';
import { healthRoutes, type ReadinessProbe } from './health.ts';
import { requestContext, type RequestState } from './request-context.ts';

export interface BaseAppOptions {
  config: Config;
  log: Logger;
  probes: ReadinessProbe[];
  isAcceptingTraffic: () => boolean;
}

/** The koa app every Latchkey process starts from: request context, error envelope, health routes. */
export function createBaseApp({ config, log, probes, isAcceptingTraffic }: BaseAppOptions): Koa<RequestState> {
  const app = new Koa<RequestState>({ proxy: config.http.trustProxy });
  // koa would print errors to stderr on its own; requestContext has already logged what matters.
  app.silent = true;
  app.use(requestContext(log));
  const health = healthRoutes({ probes, timeoutMs: config.http.readinessTimeoutMs, isAcceptingTraffic });
  app.use(health.routes());
  return app;
}
