import { notFound } from '../../shared/http/errors.ts';
import type { ApiRow } from '../apis/api-repository.ts';
import { adminRoute, type AnyAdminRoute } from './admin-route.ts';
import {
  Api,
  ApiId,
  ApiListQuery,
  ApiScopeParams,
  CreateApiBody,
  pageOf,
  ScopesBody,
  UpdateApiBody,
} from './admin-schemas.ts';
import { audit, type AdminServices } from './admin-services.ts';

export function presentApi(api: ApiRow) {
  return {
    id: api.id,
    identifier: api.identifier,
    name: api.name,
    accessTokenTtlSeconds: api.accessTokenTtlSeconds,
    roleLimited: api.roleLimited,
    dpopRequired: api.dpopRequired,
    scopes: api.scopes.map((scope) => ({ name: scope.name, description: scope.description })),
    createdAt: api.createdAt.toISOString(),
  };
}

/** APIs (RFC 8707 resources) and their scopes. Paths name an API by its id: identifiers are URIs. */
export function adminApiRoutes(services: AdminServices): AnyAdminRoute[] {
  const { apis } = services;
  const tag = 'APIs';
  const load = async (id: string) => {
    const api = await apis.findById(id);
    if (!api) throw notFound('No such API.');
    return api;
  };
  const changed = (api: { identifier: string }, what: string) => ({
    type: 'admin.api_changed' as const,
    detail: { identifier: api.identifier, what },
  });
  return [
    adminRoute({
      method: 'get',
      path: '/apis',
      tag,
      summary: 'List the registered APIs (or the one with an identifier)',
      access: 'read',
      query: ApiListQuery,
      response: pageOf(Api),
      async handle({ query }) {
        const rows = query.identifier
          ? [await apis.find(query.identifier)].filter((api) => api !== null)
          : await apis.list();
        return { items: rows.map(presentApi), nextCursor: null };
      },
    }),
    adminRoute({
      method: 'post',
      path: '/apis',
      tag,
      summary: 'Register an API with its scopes',
      access: 'write',
      body: CreateApiBody,
      status: 201,
      response: Api,
      errors: [409],
      async handle({ body, actor, ctx }) {
        const api = await apis.create(body);
        await audit(services, actor, ctx, changed(api, 'created'));
        ctx.set('Location', `/admin/v1/apis/${api.id}`);
        return presentApi(api);
      },
    }),
    adminRoute({
      method: 'get',
      path: '/apis/:id',
      tag,
      summary: 'Show an API',
      access: 'read',
      params: ApiId,
      response: Api,
      errors: [404],
      handle: async ({ params }) => presentApi(await load(params.id)),
    }),
    adminRoute({
      method: 'patch',
      path: '/apis/:id',
      tag,
      summary: 'Change an API’s name, token lifetime, role limits or DPoP requirement',
      access: 'write',
      params: ApiId,
      body: UpdateApiBody,
      response: Api,
      errors: [404],
      async handle({ params, body, actor, ctx }) {
        const api = await apis.update((await load(params.id)).identifier, body);
        await audit(services, actor, ctx, changed(api, 'updated'));
        return presentApi(api);
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/apis/:id',
      tag,
      summary: 'Delete an API, and every client’s and role’s access to it',
      access: 'write',
      params: ApiId,
      status: 204,
      errors: [404],
      async handle({ params, actor, ctx }) {
        const api = await load(params.id);
        await apis.delete(api.identifier);
        await audit(services, actor, ctx, changed(api, 'deleted'));
      },
    }),
    adminRoute({
      method: 'post',
      path: '/apis/:id/scopes',
      tag,
      summary: 'Add scopes (or change the sentence of existing ones)',
      access: 'write',
      params: ApiId,
      body: ScopesBody,
      response: Api,
      errors: [404],
      async handle({ params, body, actor, ctx }) {
        const { identifier } = await load(params.id);
        let api = await load(params.id);
        for (const scope of body.scopes) api = await apis.addScope(identifier, scope);
        await audit(services, actor, ctx, changed(api, 'scope added'));
        return presentApi(api);
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/apis/:id/scopes/:name',
      tag,
      summary: 'Remove a scope, and every client’s and role’s hold of it',
      access: 'write',
      params: ApiScopeParams,
      response: Api,
      errors: [404],
      async handle({ params, actor, ctx }) {
        const api = await apis.removeScope((await load(params.id)).identifier, params.name);
        await audit(services, actor, ctx, changed(api, 'scope removed'));
        return presentApi(api);
      },
    }),
  ];
}
