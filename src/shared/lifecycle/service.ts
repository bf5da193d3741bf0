import type Koa from 'koa';
import type { Cache } from '../cache/cache.ts';
import { cacheReachable, describeCache, openCache } from '../cache/open-cache.ts';
import { loadConfig, type Config, type DatabaseTarget } from '../config/config.ts';
import { exitOnStartupError } from '../config/startup-errors.ts';
import {
  describeTarget,
  openDatabase,
  type ClientFactory,
  type Database,
  type PrismaLike,
} from '../database/connection.ts';
import { migrate } from '../database/migrations.ts';
import { databaseUnreachable } from './unreachable.ts';
import { listen } from '../http/http-server.ts';
import { createLogger, type Logger } from '../logging/logger.ts';
import type { DestinationStream } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeInOrder, onTerminationSignal, type CloseStep } from './shutdown.ts';
import { Metrics, serveMetrics, watchDatabasePool, watchDependencies } from '../observability/metrics.ts';
import { LATCHKEY_VERSION } from '../version.ts';
import { flushTraces } from '../observability/trace-flush.ts';

export interface ServiceDependencies<Client extends PrismaLike> {
  config: Config;
  log: Logger;
  database: Database<Client>;
  cache: Cache;
  /** False from the moment shutdown begins; readiness reports 503 from then on. */
  isAcceptingTraffic: () => boolean;
  /** This process's Prometheus registry: the HTTP metrics are there already; the app adds its own. */
  metrics: Metrics;
}

/**
 * A process's app and what it started beside it. Shutdown runs: drain HTTP, then `close` in its
 * order (mail in hand, timers, the provider host...), then the database, then the cache.
 */
export interface BuiltApp {
  app: Koa;
  close: CloseStep[];
}

/** What differs between Latchkey's processes; everything else about starting and stopping is shared. */
export interface ServiceDefinition<Client extends PrismaLike> {
  name: string;
  endpoint(config: Config): { url: string; port: number };
  /** Where this process serves its metrics (undefined: not at all). */
  metricsPort(config: Config): number | undefined;
  database(config: Config): DatabaseTarget;
  migrationsDirectory: string;
  createClient: ClientFactory<Client>;
  buildApp(dependencies: ServiceDependencies<Client>): BuiltApp | Promise<BuiltApp>;
}

export interface RunningService<Client extends PrismaLike> extends ServiceDependencies<Client> {
  port: number;
  /** The metrics listener's port, when it is on. */
  metricsPort: number | undefined;
  /** Stops accepting, drains in-flight requests (up to SHUTDOWN_TIMEOUT_MS), then closes the stores. */
  stop(): Promise<boolean>;
}

export interface StartOptions {
  /** Overrides the configured port (tests pass 0 for any free port). */
  port?: number;
  logDestination?: DestinationStream;
}

export async function startService<Client extends PrismaLike>(
  definition: ServiceDefinition<Client>,
  config: Config,
  options: StartOptions = {},
): Promise<RunningService<Client>> {
  const started = performance.now();
  const log = createLogger(
    { level: config.log.level, format: config.log.format, name: definition.name },
    options.logDestination,
  );
  const target = definition.database(config);
  const database = await openDatabase(target, definition.createClient, log);
  let cache: Cache | undefined;
  try {
    if (config.migrateOnStart)
      await migrate(database, definition.migrationsDirectory, log).catch((error: unknown) => {
        throw databaseUnreachable(error, target) ?? error;
      });
    cache = openCache(config.cache, log);
    await cacheReachable(cache, config.cache);
    let accepting = true;
    const metrics = new Metrics(definition.name, LATCHKEY_VERSION);
    watchDependencies(metrics, { database, cache });
    watchDatabasePool(metrics, database.pool);
    const dependencies: ServiceDependencies<Client> = {
      config,
      log,
      database,
      cache,
      isAcceptingTraffic: () => accepting,
      metrics,
    };
    const { app, close: appSteps } = await Promise.resolve()
      .then(() => definition.buildApp(dependencies))
      .catch((error: unknown) => {
        throw databaseUnreachable(error, target) ?? withoutSchema(error) ?? error;
      });
    const endpoint = definition.endpoint(config);
    const port = options.port ?? endpoint.port;
    const server = await listen(app, port, config.http.host).catch((error: unknown) => {
      if ((error as { code?: string }).code !== 'EADDRINUSE') throw error;
      const variable = `${definition.name.toUpperCase().replace(/-/g, '_')}_PORT`;
      throw new Error(
        `port ${port} is already in use by another program: set ${variable} to a free port (or stop that program)`,
      );
    });
    const configuredMetricsPort = definition.metricsPort(config);
    const metricsServer =
      configuredMetricsPort === undefined
        ? undefined
        : await serveMetrics(metrics, configuredMetricsPort, config.metrics.host).catch(async (error: unknown) => {
            await server.close(0);
            if ((error as { code?: string }).code !== 'EADDRINUSE') throw error;
            const variable = `${definition.name.toUpperCase().replace(/-/g, '_')}_METRICS_PORT`;
            throw new Error(
              `metrics port ${configuredMetricsPort} is already in use by another program: set ${variable} to a free port, or to off`,
            );
          });
    log.info(
      {
        url: endpoint.url,
        listen: `${config.http.host}:${server.port}`,
        metrics: metricsServer ? `${config.metrics.host}:${metricsServer.port}` : 'off',
        database: describeTarget(target),
        cache: describeCache(config.cache),
        startupMs: Math.round(performance.now() - started),
      },
      `${definition.name} listening on ${endpoint.url}`,
    );
    const openCacheHandle = cache;
    return {
      ...dependencies,
      port: server.port,
      metricsPort: metricsServer?.port,
      stop: async () => {
        // Drain the way load balancers expect: first say "not ready" while still serving (and close
        // keep-alive connections as they finish), then stop listening and let in-flight requests end.
        accepting = false;
        server.beginDrain();
        if (config.http.shutdownReadinessDelayMs > 0) await sleep(config.http.shutdownReadinessDelayMs);
        const clean = await closeInOrder(
          [
            {
              name: 'http',
              close: () =>
                server.close(config.http.shutdownTimeoutMs).then(({ drained }) => {
                  if (!drained) log.warn('shutdown timeout: cut off requests still running');
                }),
            },
            ...appSteps,
            { name: 'metrics', close: async () => metricsServer?.close() },
            { name: 'database', close: () => database.close() },
            { name: 'cache', close: () => openCacheHandle.close() },
            { name: 'traces', close: () => flushTraces() },
          ],
          log,
        );
        log.info(`${definition.name} stopped`);
        await new Promise<void>((resolve) => log.flush(() => resolve()));
        return clean;
      },
    };
  } catch (error) {
    await cache?.close().catch(() => undefined);
    await database.close().catch(() => undefined);
    throw error;
  }
}

/** A process's main: configuration, start, and a graceful stop on SIGTERM/SIGINT. Never prints a stack trace. */
export async function runService<Client extends PrismaLike>(definition: ServiceDefinition<Client>): Promise<void> {
  // Installed before start-up, so a signal that arrives while migrating still ends in a clean stop.
  let service: RunningService<Client> | undefined;
  let stopRequested: NodeJS.Signals | undefined;
  const stop = async (signal: NodeJS.Signals, running: RunningService<Client>) => {
    running.log.info({ signal }, 'shutting down');
    process.exit((await running.stop()) ? 0 : 1);
  };
  onTerminationSignal(async (signal) => {
    if (service) await stop(signal, service);
    else stopRequested = signal;
  });
  try {
    service = await startService(definition, loadConfig());
  } catch (error) {
    exitOnStartupError(definition.name, error);
  }
  if (stopRequested) await stop(stopRequested, service);
}

/**
 * A database without Latchkey's tables (MIGRATE_ON_START=false and never migrated) fails at the
 * first query with "relation ... does not exist": say what to do instead.
 */
function withoutSchema(error: unknown): Error | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : '';
  if (code !== 'P2021' && !/relation "?[\w.]+"? does not exist|table .* does not exist/i.test(message))
    return undefined;
  return new Error('the database has no Latchkey schema: run `latchkey migrate` (or start with MIGRATE_ON_START=true)');
}
