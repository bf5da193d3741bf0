import { CliError, EXIT, type AdminConnection } from '../admin-connection.ts';
import { fields, table, type CommandInput, type Output } from '../cli-options.ts';
import { readPassword } from '../password-input.ts';

interface User {
  id: string;
  email: string;
  emailVerified: boolean;
  disabled: boolean;
  secondFactor: boolean;
  roles: string[];
  profile: Record<string, string | null>;
  createdAt: string;
}

const usage = (message: string) => new CliError(EXIT.invalid, message);

/** A user as the CLI shows one: the profile's fields beside the others, as before the admin API. */
const shown = ({ profile, ...user }: User) => ({ ...user, ...profile });

/** A user by id or address: an address is looked up through the search. */
export async function userId(admin: AdminConnection, idOrEmail: string | undefined): Promise<string> {
  if (!idOrEmail) throw usage('name a user by id or email');
  if (/^[0-9a-f-]{36}$/i.test(idOrEmail)) return idOrEmail;
  if (!idOrEmail.includes('@')) throw new CliError(EXIT.notFound, `no user ${idOrEmail}`);
  const page = await admin.call<{ items: User[] }>('GET', `/users?q=${encodeURIComponent(idOrEmail)}&limit=200`);
  const user = page.items.find((candidate) => candidate.email === idOrEmail.trim().toLowerCase());
  if (!user) throw new CliError(EXIT.notFound, `no user ${idOrEmail}`);
  return user.id;
}

/** The profile fields given on the command line, by claim name; --name is the `name` claim. */
function profileChanges(values: CommandInput['values']): Record<string, string> {
  const given = {
    name: values.name,
    given_name: values['given-name'],
    family_name: values['family-name'],
    preferred_username: values['preferred-username'],
    picture: values.picture,
    locale: values.locale,
    zoneinfo: values.zoneinfo,
  };
  return Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) as Record<string, string>;
}

const lifecycle: Record<string, { path: string; done: string }> = {
  disable: { path: 'disable', done: 'disabled; every session, grant and refresh token ended' },
  enable: { path: 'enable', done: 'enabled' },
  unlock: { path: 'unlock', done: 'unlocked' },
  'reset-second-factor': { path: 'reset-second-factor', done: 'second factor removed; they enrol again' },
  'password-reset': { path: 'password-reset', done: 'sent a password-reset link' },
};

/** `latchkey user ...` */
export async function userCommand(
  admin: AdminConnection,
  { action, target, rest, values }: CommandInput,
): Promise<Output> {
  if (action && lifecycle[action]) {
    const id = await userId(admin, target);
    const user = await admin.call<User>('POST', `/users/${id}/${lifecycle[action].path}`);
    return { json: shown(user), text: `${user.email}: ${lifecycle[action].done}` };
  }
  switch (action) {
    case 'create': {
      if (!values.email) throw usage('user create needs --email');
      const password = await readPassword();
      const user = await admin.call<User>('POST', '/users', {
        email: values.email,
        password,
        emailVerified: values.verified,
        ...(values.role ? { roles: values.role } : {}),
      });
      return {
        json: shown(user),
        text: `created ${user.email} (${user.id}) with roles ${user.roles.join(', ') || 'none'}`,
      };
    }
    case 'list': {
      const query = values.email ? `?q=${encodeURIComponent(values.email)}&limit=200` : '?limit=200';
      const page = await admin.call<{ items: User[] }>('GET', `/users${query}`);
      const rows = page.items.map(shown);
      return { json: rows, text: table(rows, ['id', 'email', 'roles', 'emailVerified', 'disabled']) };
    }
    case 'show': {
      const user = shown(await admin.call<User>('GET', `/users/${await userId(admin, target)}`));
      return { json: user, text: fields(user) };
    }
    case 'update': {
      const changes = profileChanges(values);
      if (Object.keys(changes).length === 0) throw usage('user update needs at least one profile field');
      const user = await admin.call<User>('PATCH', `/users/${await userId(admin, target)}`, changes);
      return { json: shown(user), text: `updated the profile of ${user.email}` };
    }
    case 'delete': {
      const id = await userId(admin, target);
      if (!values.confirm) throw usage('user delete erases the account for good: repeat its address with --confirm');
      await admin.call('DELETE', `/users/${id}?confirm=${encodeURIComponent(values.confirm)}`);
      return { json: { id, deleted: true }, text: `deleted ${target ?? id} and everything issued to it` };
    }
    case 'roles': {
      const [who, ...names] = rest;
      if ((target !== 'add' && target !== 'remove') || !who || names.length === 0)
        throw usage('user roles add|remove ID|EMAIL ROLE...');
      const id = await userId(admin, who);
      let held: { roles: string[] } = { roles: [] };
      if (target === 'add') held = await admin.call('POST', `/users/${id}/roles`, { roles: names });
      else
        for (const name of names) held = await admin.call('DELETE', `/users/${id}/roles/${encodeURIComponent(name)}`);
      return {
        json: { userId: id, roles: held.roles },
        text: `${who} now holds ${held.roles.join(', ') || 'no role'}`,
      };
    }
    case 'passkeys': {
      // `user passkeys ID|EMAIL` lists; `user passkeys remove ID|EMAIL PASSKEY_ID` removes one (a lost device).
      if (target === 'remove') {
        const [who, passkeyId] = rest;
        if (!who || !passkeyId) throw usage('user passkeys remove ID|EMAIL PASSKEY_ID');
        const id = await userId(admin, who);
        await admin.call('DELETE', `/users/${id}/passkeys/${encodeURIComponent(passkeyId)}`);
        return { json: { userId: id, removed: passkeyId }, text: `removed passkey ${passkeyId} of ${who}` };
      }
      const id = await userId(admin, target);
      const page = await admin.call<{ items: Array<Record<string, unknown>> }>('GET', `/users/${id}/passkeys`);
      return {
        json: page.items,
        text: page.items.length
          ? table(page.items, ['id', 'name', 'deviceType', 'createdAt', 'lastUsedAt'])
          : `${target ?? id} has no passkeys`,
      };
    }
    default:
      throw usage(`unknown user command "${action ?? ''}"`);
  }
}
