import Router from '@koa/router';
import type { ClientMetadata } from 'oidc-provider';
import type { Middleware } from 'koa';
import type { JWTVerifyGetKey } from 'jose';
import {
  authenticate,
  insufficientScope,
  stepUpRequired,
  unauthorized,
  type ProtectedResource,
} from '../../shared/auth/authenticate.ts';
import { DPOP_ALGORITHMS } from '../../shared/auth/dpop.ts';
import { hasRecentSecondFactor } from '../../shared/auth/step-up.ts';
import type { Cache } from '../../shared/cache/cache.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { GRANT_TYPES } from '../../shared/protocol.ts';
import type { ApiService } from '../apis/api-service.ts';
import type { RoleService } from '../roles/role-service.ts';
import type { AdminActor } from './admin-actor.ts';
import { adminApiRoutes } from './admin-api-routes.ts';
import { adminClientRoutes } from './admin-client-routes.ts';
import { adminLogRoutes } from './admin-log-routes.ts';
import { adminApiKeyRoutes } from './admin-api-key-routes.ts';
import { adminUpstreamRoutes } from './admin-upstream-routes.ts';
import { adminWebhookRoutes } from './admin-webhook-routes.ts';
import { adminOpenApi } from './admin-openapi.ts';
import { adminRoleRoutes } from './admin-role-routes.ts';
import { adminRouter, type AdminAccess, type AdminState, type AnyAdminRoute } from './admin-route.ts';
import type { AdminServices } from './admin-services.ts';
import { adminUserRoutes } from './admin-user-routes.ts';
import type { LocalOperator } from './local-operator.ts';

/** Writes by a person need a second factor at most this old (RFC 9470 step-up). */
export const ADMIN_STEP_UP_SECONDS = 900;
export const ADMIN_SCOPES = { read: 'admin:read', write: 'admin:write' } as const;
/** The role that holds the admin API's scopes (the migration made it from `users.role = admin`). */
export const ADMIN_ROLE = 'admin';
/** The `latchkey` command line's client: first-party, device grant, tokens for the admin API only. */
export const ADMIN_CLI_CLIENT_ID = 'latchkey-cli';

/** The admin API as a protected resource: its identifier is `<issuer>/admin`, its paths under /admin/v1. */
export function adminResource(issuerUrl: string): ProtectedResource {
  return {
    audience: `${issuerUrl}/admin`,
    realm: 'latchkey-admin',
    baseUrl: issuerUrl,
    metadataUrl: `${issuerUrl}/.well-known/oauth-protected-resource/admin`,
  };
}

/**
 * The admin API is registered like any other API (so its tokens are RFC 9068 JWTs limited by
 * roles), and the `admin` role holds both its scopes. Done at every start: it follows ISSUER_URL.
 */
export async function registerAdminApi(apis: ApiService, roles: RoleService, issuerUrl: string): Promise<void> {
  const identifier = adminResource(issuerUrl).audience;
  const scopes = [
    { name: ADMIN_SCOPES.read, description: 'See users, applications, APIs, roles, keys and the security log' },
    { name: ADMIN_SCOPES.write, description: 'Change users, applications, APIs, roles and keys' },
  ];
  await apis.ensure({ identifier, name: 'Latchkey admin API', scopes });
  await roles.ensure({ name: ADMIN_ROLE, description: 'Administrators' });
  await roles.grant(ADMIN_ROLE, identifier, [ADMIN_SCOPES.read, ADMIN_SCOPES.write]);
}

/** The `latchkey` CLI's client, defined in code like the account pages' (nothing to register). */
export function adminCliClient(issuerUrl: string): ClientMetadata {
  return {
    client_id: ADMIN_CLI_CLIENT_ID,
    client_name: 'latchkey (administration command line)',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken],
    response_types: [],
    redirect_uris: [],
    // Who signed in (`latchkey whoami`), and a refresh token; nothing else of the person.
    scope: 'openid email offline_access',
    first_party: true,
    allowed_resources: [adminResource(issuerUrl).audience],
    resource_scopes: [ADMIN_SCOPES.read, ADMIN_SCOPES.write],
    default_resource: adminResource(issuerUrl).audience,
  };
}

export interface AdminApiOptions {
  issuerUrl: string;
  services: AdminServices;
  keys: JWTVerifyGetKey;
  cache: Cache;
  localOperator: LocalOperator;
}

/** Who is calling: the local operator (loopback and the data folder's credential), or a verified token. */
function adminGate(options: AdminApiOptions, resource: ProtectedResource): Middleware<AdminState> {
  const bearer = authenticate({ issuer: options.issuerUrl, resource, keys: options.keys, replayCache: options.cache });
  return async (ctx, next) => {
    const local = /^LocalOperator ([A-Za-z0-9_-]{20,200})$/.exec(ctx.get('authorization'));
    if (!local) {
      await bearer(ctx as Parameters<typeof bearer>[0], next);
      return;
    }
    if (!(await options.localOperator.accepts(ctx, local[1]!)))
      throw unauthorized(
        resource,
        'invalid_token',
        'The local-operator credential is accepted only from this machine, and only the current one.',
      );
    ctx.state.actor = { kind: 'local-operator' };
    await next();
  };
}

/** The policy: the scope for the access, and a recent second factor for a person's write. */
export function adminPolicy(resource: ProtectedResource) {
  return (actor: AdminActor, access: AdminAccess) => {
    if (actor.kind === 'local-operator') return;
    const scope = ADMIN_SCOPES[access];
    if (!actor.scopes.has(scope)) throw insufficientScope(resource, scope);
    if (access === 'write' && actor.kind === 'user' && !hasRecentSecondFactor(actor, ADMIN_STEP_UP_SECONDS))
      throw stepUpRequired(resource, ADMIN_STEP_UP_SECONDS);
  };
}

/** Every admin route, in the order the OpenAPI document lists them. */
export function adminRoutes(services: AdminServices): AnyAdminRoute[] {
  return [
    ...adminUserRoutes(services),
    ...adminClientRoutes(services),
    ...adminApiRoutes(services),
    ...adminRoleRoutes(services),
    ...adminLogRoutes(services),
    ...adminWebhookRoutes(services),
    ...adminApiKeyRoutes(services),
    ...adminUpstreamRoutes(services),
  ];
}

/** /admin/v1: its OpenAPI document and metadata (public), and the routes behind the gate. */
export function adminApi(options: AdminApiOptions): Router<RequestState> {
  const resource = adminResource(options.issuerUrl);
  const routes = adminRoutes(options.services);
  const document = adminOpenApi(routes, options.issuerUrl);
  const open = new Router<RequestState>();
  open.get('/admin/v1/openapi.json', (ctx) => {
    ctx.body = document;
  });
  open.get('/.well-known/oauth-protected-resource/admin', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = {
      resource: resource.audience,
      authorization_servers: [options.issuerUrl],
      scopes_supported: Object.values(ADMIN_SCOPES),
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: DPOP_ALGORITHMS,
      resource_name: 'Latchkey admin API',
      resource_documentation: `${options.issuerUrl}/admin/v1/openapi.json`,
    };
  });
  const gated = adminRouter(routes, [adminGate(options, resource)], adminPolicy(resource));
  open.use(gated.routes() as unknown as Middleware<RequestState>);
  open.use(gated.allowedMethods() as unknown as Middleware<RequestState>);
  return open;
}
