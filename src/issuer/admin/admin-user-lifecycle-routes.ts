import { normalizeEmail } from '../../accounts/email-address.ts';
import type { UserRow } from '../../accounts/user-repository.ts';
import { badRequest, notFound } from '../../shared/http/errors.ts';
import { deleteAccount, disableAccount } from '../account-lifecycle.ts';
import { adminRoute, type AnyAdminRoute } from './admin-route.ts';
import {
  DeleteUserQuery,
  Grant,
  GrantParams,
  Passkey,
  PasskeyParams,
  pageOf,
  RoleHeld,
  RolesBody,
  Session,
  SessionParams,
  User,
  UserId,
  UserRoleParams,
} from './admin-schemas.ts';
import { actorLabel } from './admin-actor.ts';
import { audit, type AdminServices } from './admin-services.ts';
import { presentUser } from './admin-user-routes.ts';

/** A user's life after creation (disable, erase, roles...), and their sessions and app grants. */
/** Loads the user a path names, or answers 404. */
export type Load = (id: string) => Promise<UserRow & { roleNames: string[] }>;

/** Disable, enable, unlock, erase, reset second factors, send a reset mail, give and take roles. */
export function userLifecycleRoutes(services: AdminServices, load: Load): AnyAdminRoute[] {
  const tag = 'Users';
  const action = (
    path: string,
    summary: string,
    act: (
      user: UserRow,
      input: { ctx: Parameters<typeof audit>[2]; actor: Parameters<typeof audit>[1] },
    ) => Promise<unknown>,
  ) =>
    adminRoute({
      method: 'post',
      path: `/users/:id/${path}`,
      tag,
      summary,
      access: 'write',
      params: UserId,
      response: User,
      errors: [404],
      async handle({ params, actor, ctx }) {
        await act(await load(params.id), { actor, ctx });
        return presentUser(await load(params.id));
      },
    });
  return [
    action('disable', 'Disable: ends every session, grant and refresh token at once', async (user, { actor, ctx }) => {
      const { revokedGrants } = await disableAccount(services.db, services.cache, user.id);
      await audit(services, actor, ctx, { type: 'admin.user_disabled', userId: user.id, detail: { revokedGrants } });
    }),
    action('enable', 'Enable a disabled user', async (user, { actor, ctx }) => {
      await services.users.setDisabled(user.id, null);
      await audit(services, actor, ctx, { type: 'admin.user_enabled', userId: user.id });
    }),
    action('unlock', 'Lift a sign-in lock', async (user, { actor, ctx }) => {
      await services.lockout.unlock(user.id);
      await audit(services, actor, ctx, { type: 'account.unlocked', userId: user.id });
    }),
    action(
      'reset-second-factor',
      'Remove the second factor and recovery codes (the person enrols again)',
      async (user, { actor, ctx }) => {
        await services.users.removeSecondFactor(user.id);
        await audit(services, actor, ctx, { type: 'totp.removed', userId: user.id, detail: { by: 'admin' } });
      },
    ),
    action('password-reset', 'Mail the person a password-reset link', async (user, { actor, ctx }) => {
      await services.reset.request(user.email, ctx.ip);
      await audit(services, actor, ctx, { type: 'admin.password_reset_sent', userId: user.id });
    }),
    adminRoute({
      method: 'delete',
      path: '/users/:id',
      tag,
      summary:
        'Erase a user and everything issued to them (the security log keeps its lines, without their IP addresses)',
      access: 'write',
      params: UserId,
      query: DeleteUserQuery,
      status: 204,
      errors: [404],
      async handle({ params, query, actor, ctx }) {
        const user = await load(params.id);
        if (normalizeEmail(query.confirm) !== user.email)
          throw badRequest('query.confirm: repeat the account’s email address to erase it.');
        const erased = await deleteAccount(services.db, services.cache, services.lockout, user.id);
        await audit(services, actor, ctx, { type: 'admin.user_deleted', userId: user.id, detail: erased });
      },
    }),
    adminRoute({
      method: 'post',
      path: '/users/:id/roles',
      tag,
      summary: 'Give roles (held ones are kept)',
      access: 'write',
      params: UserId,
      body: RolesBody,
      response: RoleHeld,
      errors: [404],
      async handle({ params, body, actor, ctx }) {
        const user = await load(params.id);
        const roles = await services.roles.assign({ userId: user.id }, body.roles);
        await audit(services, actor, ctx, {
          type: 'admin.roles_assigned',
          userId: user.id,
          detail: { added: body.roles.join(' ') },
        });
        return { roles };
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/users/:id/roles/:role',
      tag,
      summary: 'Take a role away',
      access: 'write',
      params: UserRoleParams,
      response: RoleHeld,
      errors: [404],
      async handle({ params, actor, ctx }) {
        const user = await load(params.id);
        const roles = await services.roles.unassign({ userId: user.id }, [params.role]);
        await audit(services, actor, ctx, {
          type: 'admin.roles_assigned',
          userId: user.id,
          detail: { removed: params.role },
        });
        return { roles };
      },
    }),
  ];
}

/** A user's browser sessions and the apps they gave access to: list and end. */
export function userAccessRoutes(services: AdminServices, load: Load): AnyAdminRoute[] {
  const tag = 'Users';
  const iso = (date: Date | undefined) => date?.toISOString() ?? null;
  return [
    adminRoute({
      method: 'get',
      path: '/users/:id/sessions',
      tag,
      summary: 'List the user’s browser sessions',
      access: 'read',
      params: UserId,
      response: pageOf(Session),
      errors: [404],
      async handle({ params }) {
        const user = await load(params.id);
        const sessions = await services.access.sessions(user.id);
        return {
          items: sessions.map((session) => ({
            handle: session.handle,
            device: session.device,
            signedInAt: iso(session.signedInAt),
            lastSeenAt: iso(session.lastSeenAt),
          })),
          nextCursor: null,
        };
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/users/:id/sessions/:handle',
      tag,
      summary: 'End one browser session',
      access: 'write',
      params: SessionParams,
      status: 204,
      errors: [404],
      async handle({ params, actor, ctx }) {
        const user = await load(params.id);
        if (!(await services.access.revokeSession(user.id, params.handle))) throw notFound('No such session.');
        await audit(services, actor, ctx, { type: 'session.revoked', userId: user.id, detail: { by: 'admin' } });
      },
    }),
    adminRoute({
      method: 'get',
      path: '/users/:id/passkeys',
      tag,
      summary: 'List the user’s passkeys (never their keys)',
      access: 'read',
      params: UserId,
      response: pageOf(Passkey),
      errors: [404],
      async handle({ params }) {
        const user = await load(params.id);
        const passkeys = await services.passkeys.list(user.id);
        return {
          items: passkeys.map((passkey) => ({
            id: passkey.id,
            name: passkey.name,
            deviceType: passkey.deviceType,
            backedUp: passkey.backedUp,
            createdAt: passkey.createdAt.toISOString(),
            lastUsedAt: iso(passkey.lastUsedAt ?? undefined),
          })),
          nextCursor: null,
        };
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/users/:id/passkeys/:passkeyId',
      tag,
      summary: 'Remove one of the user’s passkeys (a lost or stolen device)',
      access: 'write',
      params: PasskeyParams,
      status: 204,
      errors: [404],
      async handle({ params, actor, ctx }) {
        const user = await load(params.id);
        if (!(await services.passkeys.removeAny(user.id, params.passkeyId, actorLabel(actor), ctx.ip)))
          throw notFound('No such passkey.');
      },
    }),
    adminRoute({
      method: 'get',
      path: '/users/:id/grants',
      tag,
      summary: 'List the apps the user gave access to',
      access: 'read',
      params: UserId,
      response: pageOf(Grant),
      errors: [404],
      async handle({ params }) {
        const user = await load(params.id);
        const grants = await services.access.grants(user.id);
        return {
          items: grants.map((grant) => ({ grantId: grant.grantId, clientId: grant.clientId, scopes: grant.scopes })),
          nextCursor: null,
        };
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/users/:id/grants/:grantId',
      tag,
      summary: 'Revoke an app’s access, with its refresh tokens',
      access: 'write',
      params: GrantParams,
      status: 204,
      errors: [404],
      async handle({ params, actor, ctx }) {
        const user = await load(params.id);
        if (!(await services.access.revokeGrant(user.id, params.grantId))) throw notFound('No such grant.');
        await audit(services, actor, ctx, { type: 'grant.revoked', userId: user.id, detail: { by: 'admin' } });
      },
    }),
  ];
}
