import Router from '@koa/router';
import type { RequestState } from './request-context.ts';

/** A dependency the process cannot serve without; `check` rejects when it is unreachable. */
export interface ReadinessProbe {
  name: string;
  check(): Promise<void>;
}

export interface HealthOptions {
  probes: ReadinessProbe[];
  timeoutMs: number;
  /** False once shutdown starts, so load balancers stop sending traffic while requests drain. */
  isAcceptingTraffic: () => boolean;
  /** States shown in the report that do not decide readiness (a degraded but serving part, such as a stale key set). */
  details?: Record<string, () => string>;
}

/** `promise`, or a rejection naming `what` once `ms` have passed: a dependency that hangs is a finding, not a hang. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what = 'no answer'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export type ReadinessReport = {
  ready: boolean;
  checks: Record<string, 'ok' | 'unavailable'>;
  details?: Record<string, string>;
};

export async function checkReadiness(options: HealthOptions): Promise<ReadinessReport> {
  const results = await Promise.allSettled(
    options.probes.map((probe) => withTimeout(probe.check(), options.timeoutMs)),
  );
  const checks: ReadinessReport['checks'] = {};
  options.probes.forEach((probe, index) => {
    checks[probe.name] = results[index]?.status === 'fulfilled' ? 'ok' : 'unavailable';
  });
  const ready = options.isAcceptingTraffic() && Object.values(checks).every((status) => status === 'ok');
  const details = options.details
    ? Object.fromEntries(Object.entries(options.details).map(([name, state]) => [name, state()]))
    : undefined;
  return { ready, checks, ...(details ? { details } : {}) };
}

/** `/healthz`: the process is alive. `/readyz`: it can serve, i.e. every dependency answers. */
export function healthRoutes(options: HealthOptions): Router<RequestState> {
  const router = new Router<RequestState>();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const report = await checkReadiness(options);
    for (const [name, status] of Object.entries(report.checks)) {
      if (status !== 'ok') ctx.state.log.warn({ dependency: name }, 'readiness check failed');
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.status = report.ready ? 200 : 503;
    ctx.body = {
      status: report.ready ? 'ready' : 'unavailable',
      checks: report.checks,
      ...(report.details ? { details: report.details } : {}),
    };
  });
  return router;
}
