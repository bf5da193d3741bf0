import { CliError, EXIT, type AdminConnection } from '../admin-connection.ts';
import { either, type CommandInput, type Output } from '../cli-options.ts';

interface Role {
  name: string;
  description: string;
  default: boolean;
  permissions: Array<{ api: string; scope: string }>;
  users: number;
  clients: number;
}

const usage = (message: string) => new CliError(EXIT.invalid, message);

const describe = (role: Role) =>
  [
    `${role.name}${role.default ? ' (default for new accounts)' : ''}: ${role.description || '(no description)'}`,
    `  held by ${role.users} user(s) and ${role.clients} client(s)`,
    ...role.permissions.map((permission) => `  ${permission.api} ${permission.scope}`),
  ].join('\n');

/** `latchkey role ...`: roles and the permissions (API scopes) they grant. */
export async function roleCommand(
  admin: AdminConnection,
  { action, target, rest, values }: CommandInput,
): Promise<Output> {
  const path = () => {
    if (!target) throw usage(`role ${action ?? ''} needs a role name`);
    return `/roles/${encodeURIComponent(target)}`;
  };
  switch (action) {
    case 'create': {
      if (!target) throw usage('role create needs a name');
      const role = await admin.call<Role>('POST', '/roles', {
        name: target,
        ...(values.description !== undefined ? { description: values.description } : {}),
        ...(values.default ? { default: true } : {}),
      });
      return { json: role, text: `created ${describe(role)}` };
    }
    case 'list': {
      const page = await admin.call<{ items: Role[] }>('GET', '/roles');
      const lines = page.items.map(
        (role) => `${role.name}${role.default ? ' (default)' : ''}  ${role.permissions.length} permission(s)`,
      );
      return { json: page.items, text: lines.join('\n') || '(none)' };
    }
    case 'show': {
      const role = await admin.call<Role>('GET', path());
      return { json: role, text: describe(role) };
    }
    case 'update': {
      const isDefault = either(values.default, values['no-default']);
      const changes = {
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values.description !== undefined ? { description: values.description } : {}),
        ...(isDefault !== undefined ? { default: isDefault } : {}),
      };
      if (Object.keys(changes).length === 0)
        throw usage('role update needs --name, --description, --default or --no-default');
      const role = await admin.call<Role>('PATCH', path(), changes);
      return { json: role, text: `updated ${describe(role)}` };
    }
    case 'delete': {
      const role = await admin.call<Role>('GET', path());
      await admin.call('DELETE', path());
      return {
        json: { deleted: role.name },
        text: `deleted ${role.name}; ${role.users} user(s) and ${role.clients} client(s) no longer hold it`,
      };
    }
    case 'grant':
    case 'revoke': {
      const [api, ...scopes] = rest;
      if (!api || scopes.length === 0)
        throw usage(`role ${action} needs a role, an API identifier and at least one scope`);
      const role =
        action === 'grant'
          ? await admin.call<Role>('POST', `${path()}/permissions`, { api, scopes })
          : await admin.call<Role>(
              'DELETE',
              `${path()}/permissions?${new URLSearchParams([['api', api], ...scopes.map((scope): [string, string] => ['scope', scope])]).toString()}`,
            );
      return {
        json: role,
        text: `${action === 'grant' ? 'granted' : 'revoked'} ${scopes.join(' ')} on ${api}; ${describe(role)}`,
      };
    }
    default:
      throw usage(`unknown role command "${action ?? ''}"`);
  }
}
