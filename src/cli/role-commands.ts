import type { RoleRow } from '../issuer/roles/role-repository.ts';
import type { RoleService } from '../issuer/roles/role-service.ts';

/** `latchkey role ...`: roles, the permissions (API scopes) they grant, and their holders' counts. */

export interface RoleCommandInput {
  action: string | undefined;
  /** The role's name. */
  target: string | undefined;
  /** For `role grant|revoke NAME API SCOPE...`: the API and the scopes. */
  rest: string[];
  name?: string;
  description?: string;
  isDefault?: boolean;
}

export interface RoleCommandOutput {
  json: unknown;
  text: string;
  event?: { type: 'admin.role_changed'; detail: Record<string, string> };
}

export class RoleUsageError extends Error {}

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

const describe = (role: RoleRow) =>
  [
    `${role.name}${role.isDefault ? ' (default for new accounts)' : ''}: ${role.description || '(no description)'}`,
    `  held by ${role.users} user(s) and ${role.clients} client(s)`,
    ...role.permissions.map((permission) => `  ${permission.api} ${permission.scope}`),
  ].join('\n');

export async function roleCommand(roles: RoleService, input: RoleCommandInput): Promise<RoleCommandOutput> {
  const changed = (role: string, what: string) => ({ type: 'admin.role_changed' as const, detail: { role, what } });
  const name = input.target;
  switch (input.action) {
    case 'create': {
      if (!name) throw new RoleUsageError('role create needs a name');
      const role = await roles.create({ name, description: input.description, isDefault: input.isDefault });
      return { json: presentRole(role), text: `created ${describe(role)}`, event: changed(role.name, 'created') };
    }
    case 'list': {
      const rows = (await roles.list()).map(presentRole);
      return {
        json: rows,
        text: rows.length
          ? rows
              .map(
                (role) => `${role.name}${role.default ? ' (default)' : ''}  ${role.permissions.length} permission(s)`,
              )
              .join('\n')
          : '(none)',
      };
    }
    case 'show': {
      if (!name) throw new RoleUsageError('role show needs a name');
      const role = await roles.get(name);
      return { json: presentRole(role), text: describe(role) };
    }
    case 'update': {
      if (!name) throw new RoleUsageError('role update needs a name');
      const changes = {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.isDefault !== undefined ? { isDefault: input.isDefault } : {}),
      };
      if (Object.keys(changes).length === 0)
        throw new RoleUsageError('role update needs --name, --description, --default or --no-default');
      const role = await roles.update(name, changes);
      return { json: presentRole(role), text: `updated ${describe(role)}`, event: changed(role.name, 'updated') };
    }
    case 'delete': {
      if (!name) throw new RoleUsageError('role delete needs a name');
      const role = await roles.delete(name);
      return {
        json: { deleted: role.name },
        text: `deleted ${role.name}; ${role.users} user(s) and ${role.clients} client(s) no longer hold it`,
        event: changed(role.name, 'deleted'),
      };
    }
    case 'grant':
    case 'revoke': {
      const [api, ...scopes] = input.rest;
      if (!name || !api || scopes.length === 0)
        throw new RoleUsageError(`role ${input.action} needs a role, an API identifier and at least one scope`);
      const role =
        input.action === 'grant' ? await roles.grant(name, api, scopes) : await roles.revoke(name, api, scopes);
      return {
        json: presentRole(role),
        text: `${input.action === 'grant' ? 'granted' : 'revoked'} ${scopes.join(' ')} on ${api}; ${describe(role)}`,
        event: changed(role.name, `${input.action} ${api} ${scopes.join(' ')}`),
      };
    }
    default:
      throw new RoleUsageError(`unknown role command "${input.action ?? ''}"`);
  }
}
