import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Middleware } from 'koa';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { withTimeout } from '../http/health.ts';
import type { RequestState } from '../http/request-context.ts';

/**
 * One process's Prometheus metrics (prom-client), served on a listener of their own, off the public
 * ports. Names follow Prometheus's conventions: the `latchkey_` prefix, `_total` on counters, base
 * units (`_seconds`). Labels hold only bounded, non-secret values: route templates (never a raw
 * path), methods, statuses, grant types, reasons; never an address, a token or a secret. Each
 * process has its own registry (tests run several services in one process).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'route' | 'method' | 'status'>;
  readonly #durations: Histogram<'route' | 'method'>;

  constructor(service: string, version: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which promtool rejects; each is the sum of its by-type sibling
    // (`nodejs_active_handles{type}`...), which stays.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      this.registry.removeSingleMetric(name);
    const build = this.gauge('latchkey_build_info', 'The running version (value 1).', ['version', 'node_version']);
    build.set({ version, node_version: process.version }, 1);
    this.#requests = this.counter(
      'latchkey_http_requests_total',
      'HTTP requests answered, by route template, method and status.',
      ['route', 'method', 'status'],
    );
    this.#durations = new Histogram({
      name: 'latchkey_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route template and method.',
      labelNames: ['route', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
  }

  counter<Label extends string>(name: string, help: string, labelNames: readonly Label[] = []): Counter<Label> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A gauge; `collect` (when given) sets its value at each scrape. */
  gauge<Label extends string>(
    name: string,
    help: string,
    labelNames: readonly Label[] = [],
    collect?: (gauge: Gauge<Label>) => void | Promise<void>,
  ): Gauge<Label> {
    return new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      ...(collect
        ? {
            collect(this: Gauge<Label>) {
              return collect(this);
            },
          }
        : {}),
    });
  }

  /**
   * Counts and times every request. The route is the matched router template (`/interaction/:uid`);
   * `routeOf` names what no router matched (the provider's endpoints), and anything else is
   * `unmatched`, so a scan of random paths cannot grow the label set.
   */
  httpMiddleware(routeOf: (path: string) => string | undefined = () => undefined): Middleware<RequestState> {
    return async (ctx, next) => {
      const started = process.hrtime.bigint();
      try {
        await next();
      } finally {
        const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
        const route = typeof matched === 'string' ? matched : (routeOf(ctx.path) ?? 'unmatched');
        const method = KNOWN_METHODS.has(ctx.method) ? ctx.method : 'other';
        this.#requests.inc({ route, method, status: String(ctx.status) });
        this.#durations.observe({ route, method }, Number(process.hrtime.bigint() - started) / 1e9);
      }
    };
  }
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The metrics listener: GET /metrics in Prometheus's text format, 404 for anything else. */
export async function serveMetrics(
  metrics: Metrics,
  port: number,
  host: string,
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Whether the process reaches its database and cache, asked at each scrape (with the readiness
 * probes' kind of bound): `latchkey_dependency_up{dependency}` 1 or 0.
 */
export function watchDependencies(
  metrics: Metrics,
  dependencies: Record<string, { ping(): Promise<void> }>,
  timeoutMs = 1_000,
): void {
  metrics.gauge(
    'latchkey_dependency_up',
    'Whether the process reaches each dependency (1) or not (0), asked at scrape time.',
    ['dependency'],
    async (gauge) => {
      await Promise.all(
        Object.entries(dependencies).map(async ([name, dependency]) => {
          const up = await withTimeout(dependency.ping(), timeoutMs).then(
            () => 1,
            () => 0,
          );
          gauge.set({ dependency: name }, up);
        }),
      );
    },
  );
}

/** The PostgreSQL pool's connections by state, read at each scrape (nothing for the embedded database). */
export function watchDatabasePool(
  metrics: Metrics,
  pool: { totalCount: number; idleCount: number; waitingCount: number } | undefined,
): void {
  if (!pool) return;
  metrics.gauge(
    'latchkey_database_pool_connections',
    'PostgreSQL pool: connections open (total), idle, and queries waiting for one (waiting).',
    ['state'],
    (gauge) => {
      gauge.set({ state: 'total' }, pool.totalCount);
      gauge.set({ state: 'idle' }, pool.idleCount);
      gauge.set({ state: 'waiting' }, pool.waitingCount);
    },
  );
}
