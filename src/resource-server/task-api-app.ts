import { TASK_SCOPES } from './tasks/task-scopes.ts';
import cors from '@koa/cors';
import Router from '@koa/router';
import type Koa from 'koa';
import type { PrismaClient } from '../shared/database/generated/tasks/client.ts';
import { createBaseApp } from '../shared/http/base-app.ts';
import type { RequestState } from '../shared/http/request-context.ts';
import type { BuiltApp, ServiceDependencies } from '../shared/lifecycle/service.ts';
import { authenticate, resourceAt, type AuthenticatedState } from '../shared/auth/authenticate.ts';
import { DPOP_ALGORITHMS } from '../shared/auth/dpop.ts';
import { issuerKeys } from '../shared/auth/issuer-keys.ts';
import { openApiDocument } from './http/openapi.ts';
import { rateLimitPerActor, rateLimitPerAddress } from './http/rate-limit.ts';
import { recordApiUsers } from './http/record-users.ts';
import { taskRepository } from './tasks/task-repository.ts';
import { taskRoutes } from './tasks/task-routes.ts';

/** Every scope the task API understands, as its metadata (RFC 9728) lists them. */
export const TASK_API_SCOPES = Object.values(TASK_SCOPES);

export interface TaskApiOptions {
  /** Overrides the JWKS cooldown (tests of key rotation use a short one). */
  jwksCooldownMs?: number;
  /** Overrides how old the key set may be before it is refreshed (tests of an issuer outage use a short one). */
  jwksMaxAgeMs?: number;
}

/** The task API's composition root. Public: health, metadata, OpenAPI. Everything else: a verified token first. */
export function buildTaskApiApp(
  dependencies: ServiceDependencies<PrismaClient>,
  options: TaskApiOptions = {},
): BuiltApp {
  const { config, log, database, cache, isAcceptingTraffic, metrics } = dependencies;
  const keyFetches = metrics.counter('latchkey_jwks_fetches_total', "Fetches of the issuer's key set, by outcome.", [
    'outcome',
  ]);
  const keyLookups = metrics.counter(
    'latchkey_jwks_lookups_total',
    'Token key lookups: answered from the held key set (hit) or needing a fetch (miss).',
    ['result'],
  );
  const audience = config.taskApi.url;
  const resource = resourceAt(audience, 'task-api');
  const issuer = config.issuer.url;
  const keys = issuerKeys({
    issuer,
    internalUrl: config.taskApi.issuerInternalUrl,
    staleIfErrorMs: config.taskApi.issuerKeysStaleIfErrorSeconds * 1000,
    log,
    observe: {
      fetched: (outcome) => keyFetches.inc({ outcome }),
      lookedUp: (held) => keyLookups.inc({ result: held ? 'hit' : 'miss' }),
    },
    ...(options.jwksCooldownMs !== undefined ? { cooldownMs: options.jwksCooldownMs } : {}),
    ...(options.jwksMaxAgeMs !== undefined ? { maxAgeMs: options.jwksMaxAgeMs } : {}),
  });
  const app = createBaseApp({
    config,
    log,
    database,
    cache,
    isAcceptingTraffic,
    metrics,
    details: { issuer_keys: () => keys.state() },
  });
  // The browser app's origin, exactly, and no other: tokens go in headers, never cookies, so no credentials.
  const spaOrigin = new URL(config.spa.url).origin;
  app.use(
    cors({
      origin: (ctx) => (ctx.get('origin') === spaOrigin ? spaOrigin : ''),
      allowMethods: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
      allowHeaders: ['Authorization', 'DPoP', 'Content-Type', 'X-Request-Id'],
      exposeHeaders: ['WWW-Authenticate', 'DPoP-Nonce', 'Location', 'X-Request-Id', 'Retry-After'],
      maxAge: 600,
    }),
  );

  const open = new Router<RequestState>();
  open.get('/.well-known/oauth-protected-resource', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = {
      resource: audience,
      authorization_servers: [issuer],
      scopes_supported: TASK_API_SCOPES,
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: DPOP_ALGORITHMS,
      resource_name: 'Latchkey task API',
      resource_documentation: `${audience}/openapi.json`,
    };
  });
  const document = openApiDocument({ serverUrl: audience, issuer });
  open.get('/openapi.json', (ctx) => {
    ctx.body = document;
  });
  app.use(open.routes());

  const tasks = taskRepository(database.client, database.pool);
  const api = taskRoutes({
    tasks,
    resource,
    stepUpMaxAgeSeconds: config.taskApi.stepUpMaxAgeSeconds,
    // Runs for matched routes only: an unknown path is a plain 404, not a 401.
    gate: [
      rateLimitPerAddress(cache, config.taskApi.rateLimitPerAddressPerMinute) as Koa.Middleware<AuthenticatedState>,
      authenticate({ issuer, resource, keys, replayCache: cache }),
      rateLimitPerActor(cache, config.taskApi.rateLimitPerMinute),
      recordApiUsers(tasks),
    ],
  });
  app.use(api.routes() as unknown as Koa.Middleware<RequestState>);
  app.use(api.allowedMethods() as unknown as Koa.Middleware<RequestState>);
  // Nothing runs beside the requests (the key set refreshes on demand), so nothing more to stop.
  return { app, close: [] };
}
