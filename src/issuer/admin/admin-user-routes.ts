import { normalizeEmail } from '../../accounts/email-address.ts';
import { profileOf } from '../../accounts/profile.ts';
import type { UserRow } from '../../accounts/user-repository.ts';
import { decodeCursor, encodeCursor } from '../../shared/database/page-cursor.ts';
import { badRequest, notFound } from '../../shared/http/errors.ts';
import { actorLabel } from './admin-actor.ts';
import { conflict } from './admin-errors.ts';
import { adminRoute, type AnyAdminRoute } from './admin-route.ts';
import { userAccessRoutes, userLifecycleRoutes } from './admin-user-lifecycle-routes.ts';
import { CreateUserBody, pageOf, UpdateProfileBody, User, UserId, UserListQuery } from './admin-schemas.ts';
import type { AdminServices } from './admin-services.ts';

export function presentUser(user: UserRow & { roleNames: string[] }) {
  return {
    id: user.id,
    email: user.email,
    emailVerified: user.emailVerified,
    disabled: user.disabledAt !== null,
    secondFactor: user.totpEnabledAt !== null,
    roles: user.roleNames,
    profile: profileOf(user),
    createdAt: user.createdAt.toISOString(),
  };
}

/** Users: find, create, edit, disable, unlock, erase; their roles, sessions and app grants. */
export function adminUserRoutes(services: AdminServices): AnyAdminRoute[] {
  const { users } = services;
  const load = async (id: string) => {
    const user = await users.findWithRoles(id);
    if (!user) throw notFound('No such user.');
    return user;
  };
  const tag = 'Users';
  return [
    adminRoute({
      method: 'get',
      path: '/users',
      tag,
      summary: 'List users, newest first, optionally matching an address or a name',
      access: 'read',
      query: UserListQuery,
      response: pageOf(User),
      async handle({ query }) {
        const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
        if (query.cursor && !cursor) throw badRequest('query.cursor is not a cursor this API issued.');
        const rows = await users.search({ q: query.q, role: query.role, limit: query.limit, cursor });
        const page = rows.slice(0, query.limit);
        return {
          items: page.map(presentUser),
          nextCursor: rows.length > query.limit ? encodeCursor(page.at(-1)!) : null,
        };
      },
    }),
    adminRoute({
      method: 'post',
      path: '/users',
      tag,
      summary: 'Create a user with a password (the password policy applies)',
      access: 'write',
      body: CreateUserBody,
      status: 201,
      response: User,
      errors: [409],
      async handle({ body, actor, ctx }) {
        if (body.roles) await services.roles.requireAll(body.roles);
        const created = await services.accounts.create({
          email: body.email,
          password: body.password,
          ...(body.roles ? { roles: body.roles } : {}),
          emailVerified: body.emailVerified,
          event: {
            type: 'admin.user_created',
            actor: actorLabel(actor),
            ip: ctx.ip,
            detail: { roles: body.roles?.join(' ') ?? 'default' },
          },
        });
        if (created.outcome === 'password-refused') throw badRequest(`body.password: ${created.problem}`);
        if (created.outcome === 'exists')
          throw conflict(`A user with the address ${normalizeEmail(body.email)} exists.`);
        ctx.set('Location', `/admin/v1/users/${created.user.id}`);
        return presentUser(await load(created.user.id));
      },
    }),
    adminRoute({
      method: 'get',
      path: '/users/:id',
      tag,
      summary: 'Show a user',
      access: 'read',
      params: UserId,
      response: User,
      errors: [404],
      handle: async ({ params }) => presentUser(await load(params.id)),
    }),
    adminRoute({
      method: 'patch',
      path: '/users/:id',
      tag,
      summary: 'Change profile fields (an empty string clears one)',
      access: 'write',
      params: UserId,
      body: UpdateProfileBody,
      response: User,
      errors: [404],
      async handle({ params, body, actor, ctx }) {
        await load(params.id);
        const result = await services.profiles.update(params.id, body, {
          actor: actorLabel(actor),
          ip: ctx.ip,
        });
        if (result.outcome === 'refused')
          throw badRequest(
            Object.entries(result.problems)
              .map(([field, problem]) => `body.${field}: ${problem}`)
              .join(' '),
          );
        return presentUser(await load(params.id));
      },
    }),
    ...userLifecycleRoutes(services, load),
    ...userAccessRoutes(services, load),
  ];
}
