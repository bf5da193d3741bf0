import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { readJson, validate } from '../../shared/http/json-body.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import type { AdminActor } from './admin-actor.ts';
import { asAdminError } from './admin-errors.ts';

/** `read` needs `admin:read`; `write` needs `admin:write`, and a recent second factor from a person. */
export type AdminAccess = 'read' | 'write';

export interface AdminState extends RequestState {
  actor: AdminActor;
}

type Schema = z.ZodType;
type Infer<S> = S extends z.ZodType ? z.infer<S> : undefined;

/** What a handler gets: the validated path, query and body, and who is calling. */
export interface AdminInput<P, Q, B> {
  params: Infer<P>;
  query: Infer<Q>;
  body: Infer<B>;
  actor: AdminActor;
  ctx: Context & { state: AdminState };
}

/**
 * One admin route, declared once: the router validates with its schemas, the policy reads its
 * access, and the OpenAPI document is generated from the same declaration, so every route is
 * documented and no documented route is missing.
 */
export interface AdminRouteSpec<
  P extends Schema | undefined,
  Q extends Schema | undefined,
  B extends Schema | undefined,
> {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  /** Under /admin/v1, koa-router syntax (`/users/:id`). */
  path: string;
  tag: string;
  summary: string;
  access: AdminAccess;
  params?: P;
  query?: Q;
  body?: B;
  /** The success status (200 unless said) and the schema its body is parsed through (none for 204). */
  status?: 200 | 201 | 202 | 204;
  response?: Schema;
  /** Error statuses besides the ones every route has (400, 401, 403, 503). */
  errors?: number[];
  handle(input: AdminInput<P, Q, B>): Promise<unknown>;
}

export type AnyAdminRoute = AdminRouteSpec<Schema | undefined, Schema | undefined, Schema | undefined>;

/** Declares a route with its types inferred from its schemas. */
export function adminRoute<
  P extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  B extends Schema | undefined = undefined,
>(spec: AdminRouteSpec<P, Q, B>): AnyAdminRoute {
  return spec;
}

/** The koa router for a list of routes: the gate, then per route the policy, validation, the handler. */
export function adminRouter(
  routes: AnyAdminRoute[],
  gate: Array<Middleware<AdminState>>,
  allow: (actor: AdminActor, access: AdminAccess) => void,
): Router<AdminState> {
  const router = new Router<AdminState>({ prefix: '/admin/v1' });
  for (const route of routes) {
    router[route.method](route.path, ...gate, async (ctx) => {
      allow(ctx.state.actor, route.access);
      const params = route.params ? validate(route.params, ctx.params, 'path') : undefined;
      const query = route.query ? validate(route.query, ctx.query, 'query') : undefined;
      const body = route.body ? await readJson(ctx, route.body) : undefined;
      const result = await route
        .handle({ params, query, body, actor: ctx.state.actor, ctx })
        .catch((error: unknown) => {
          throw asAdminError(error);
        });
      ctx.status = route.status ?? 200;
      if (ctx.status !== 204) ctx.body = route.response ? route.response.parse(result) : result;
    });
  }
  return router;
}
