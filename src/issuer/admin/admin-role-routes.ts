import { z } from 'zod';
import type { RoleRow } from '../roles/role-repository.ts';
import { adminRoute, type AnyAdminRoute } from './admin-route.ts';
import { CreateRoleBody, pageOf, PermissionsBody, Role, RoleName, UpdateRoleBody } from './admin-schemas.ts';
import { audit, type AdminServices } from './admin-services.ts';

export function presentRole(role: RoleRow) {
  return {
    name: role.name,
    description: role.description,
    default: role.isDefault,
    permissions: role.permissions,
    users: role.users,
    clients: role.clients,
    createdAt: role.createdAt.toISOString(),
  };
}

const oneOrMany = z
  .union([z.string().max(200), z.array(z.string().max(200)).max(200)])
  .transform((value) => (Array.isArray(value) ? value : [value]));
const RevokeQuery = z.strictObject({ api: z.string().max(2048), scope: oneOrMany.describe('Repeat for each scope') });

/** Roles and the permissions (API scopes) they grant. */
export function adminRoleRoutes(services: AdminServices): AnyAdminRoute[] {
  const { roles } = services;
  const tag = 'Roles';
  const changed = (role: string, what: string) => ({ type: 'admin.role_changed' as const, detail: { role, what } });
  return [
    adminRoute({
      method: 'get',
      path: '/roles',
      tag,
      summary: 'List roles with their permissions',
      access: 'read',
      response: pageOf(Role),
      handle: async () => ({ items: (await roles.list()).map(presentRole), nextCursor: null }),
    }),
    adminRoute({
      method: 'post',
      path: '/roles',
      tag,
      summary: 'Create a role (default: given to every new account)',
      access: 'write',
      body: CreateRoleBody,
      status: 201,
      response: Role,
      errors: [409],
      async handle({ body, actor, ctx }) {
        const role = await roles.create({ name: body.name, description: body.description, isDefault: body.default });
        await audit(services, actor, ctx, changed(role.name, 'created'));
        ctx.set('Location', `/admin/v1/roles/${encodeURIComponent(role.name)}`);
        return presentRole(role);
      },
    }),
    adminRoute({
      method: 'get',
      path: '/roles/:name',
      tag,
      summary: 'Show a role',
      access: 'read',
      params: RoleName,
      response: Role,
      errors: [404],
      handle: async ({ params }) => presentRole(await roles.get(params.name)),
    }),
    adminRoute({
      method: 'patch',
      path: '/roles/:name',
      tag,
      summary: 'Rename a role, or change its description or whether new accounts get it',
      access: 'write',
      params: RoleName,
      body: UpdateRoleBody,
      response: Role,
      errors: [404, 409],
      async handle({ params, body, actor, ctx }) {
        const role = await roles.update(params.name, {
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(body.description !== undefined ? { description: body.description } : {}),
          ...(body.default !== undefined ? { isDefault: body.default } : {}),
        });
        await audit(services, actor, ctx, changed(role.name, 'updated'));
        return presentRole(role);
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/roles/:name',
      tag,
      summary: 'Delete a role: every holder loses it',
      access: 'write',
      params: RoleName,
      status: 204,
      errors: [404],
      async handle({ params, actor, ctx }) {
        await roles.delete(params.name);
        await audit(services, actor, ctx, changed(params.name, 'deleted'));
      },
    }),
    adminRoute({
      method: 'post',
      path: '/roles/:name/permissions',
      tag,
      summary: 'Grant scopes of one API (every scope must be the API’s, or nothing changes)',
      access: 'write',
      params: RoleName,
      body: PermissionsBody,
      response: Role,
      errors: [404],
      async handle({ params, body, actor, ctx }) {
        const role = await roles.grant(params.name, body.api, body.scopes);
        await audit(services, actor, ctx, changed(role.name, `grant ${body.api} ${body.scopes.join(' ')}`));
        return presentRole(role);
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/roles/:name/permissions',
      tag,
      summary: 'Revoke scopes of one API',
      access: 'write',
      params: RoleName,
      query: RevokeQuery,
      response: Role,
      errors: [404],
      async handle({ params, query, actor, ctx }) {
        const role = await roles.revoke(params.name, query.api, query.scope);
        await audit(services, actor, ctx, changed(role.name, `revoke ${query.api} ${query.scope.join(' ')}`));
        return presentRole(role);
      },
    }),
  ];
}
