#!/usr/bin/env node
/**
 * `latchkey`: the administrator's command line, working against the configured database (and cache,
 * to end sessions). Every command accepts --json for scripts. Secrets (a client secret) are printed
 * once, at creation or rotation; passwords are read from standard input, never from arguments.
 *
 * Over 300 lines for now: each command is a few argument checks around one service call, and the
 * admin-API issue rebuilds this file as a client of /admin/v1 (commands then move to their own
 * modules beside the API's resources); splitting it before would be undone there.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { lockRepository } from '../accounts/lock-repository.ts';
import { lockout } from '../accounts/lockout.ts';
import { passwordHasher } from '../accounts/passwords.ts';
import { securityEvents, type SecurityEvent } from '../accounts/security-events.ts';
import { passwordPolicy } from '../accounts/password-policy.ts';
import { accountCreation } from '../accounts/account-creation.ts';
import { normalizeEmail } from '../accounts/email-address.ts';
import { profileOf, profiles } from '../accounts/profile.ts';
import { userRepository, type UserRepository, type UserRow } from '../accounts/user-repository.ts';
import { clientRepository, type ClientRow } from '../issuer/clients/client-repository.ts';
import { ClientValidationError, clientService, type ClientChanges } from '../issuer/clients/client-service.ts';
import { apiRepository } from '../issuer/apis/api-repository.ts';
import { apiService, ApiValidationError } from '../issuer/apis/api-service.ts';
import { apiCommand, ApiNotFoundError, ApiUsageError } from './api-commands.ts';
import { roleCommand, RoleUsageError } from './role-commands.ts';
import { roleRepository, type RoleHolder } from '../issuer/roles/role-repository.ts';
import { roleService, RoleNotFoundError, RoleValidationError } from '../issuer/roles/role-service.ts';
import { resolveKeyEncryptionKey } from '../issuer/keys/key-encryption-key.ts';
import { configuredKeyRing } from '../issuer/keys/key-ring.ts';
import { deleteAccount, disableAccount } from '../issuer/account-lifecycle.ts';
import { openCache } from '../shared/cache/open-cache.ts';
import { loadConfig, type Config } from '../shared/config/config.ts';
import { exitOnStartupError } from '../shared/config/startup-errors.ts';
import { describeTarget, openDatabase, type ClientFactory, type PrismaLike } from '../shared/database/connection.ts';
import { PrismaClient as IssuerClient, type ClientType } from '../shared/database/generated/issuer/client.ts';
import { PrismaClient as TasksClient } from '../shared/database/generated/tasks/client.ts';
import { migrate, MIGRATIONS } from '../shared/database/migrations.ts';
import type { DatabaseTarget } from '../shared/config/config.ts';
import { createLogger } from '../shared/logging/logger.ts';

const USAGE = `usage: latchkey <command> [options] [--json]

  api create URI --name N [--scope name=sentence]... [--access-token-ttl SECONDS]
             [--no-role-limited] [--dpop-required]
  api list | show URI | delete URI
  api update URI [--name N] [--access-token-ttl S] [--role-limited | --no-role-limited]
             [--dpop-required | --no-dpop-required]
  api scope add URI --scope name=sentence... | api scope remove URI NAME
  role create NAME [--description D] [--default]      (--default: given to every new account)
  role list | show NAME | delete NAME
  role update NAME [--name N] [--description D] [--default | --no-default]
  role grant NAME API_URI SCOPE... | role revoke NAME API_URI SCOPE...
  client create --name N --type web|spa|cli|service [--resource API_URI]... [--default-resource API_URI]
                [--redirect-uri U]... [--post-logout-redirect-uri U]...
                [--scope S]... [--grant-type G]... [--first-party] [--no-pkce] [--jwks-file F]
                [--logo-uri U] [--client-uri U] [--policy-uri U] [--tos-uri U] [--access-token-ttl SECONDS]
  client update ID [--name N] [--resource API_URI]... [--default-resource API_URI] [--redirect-uri U]... [--post-logout-redirect-uri U]... [--scope S]... [--grant-type G]...
                [--first-party | --third-party] [--pkce | --no-pkce] [--logo-uri U] [--client-uri U]
                [--policy-uri U] [--tos-uri U] [--access-token-ttl SECONDS]
                (lists given replace the old ones; "" clears a link, or the lifetime back to the default)
  client list | show ID | delete ID | rotate-secret ID
  client roles add|remove ID ROLE...      (a service client's roles: what its own tokens carry)
  user create --email E [--role R]... [--verified]     (password on standard input; no --role: the default roles)
  user roles add|remove ID|EMAIL ROLE...
  user list | show ID|EMAIL | disable ID|EMAIL | enable ID|EMAIL | unlock ID|EMAIL
  user delete ID|EMAIL --confirm EMAIL      (erases the account and everything issued to it)
  user update ID|EMAIL [--name N] [--given-name N] [--family-name N] [--preferred-username U]
                       [--picture URL] [--locale L] [--zoneinfo Z]   (an empty value clears a field)
  keys list | rotate
  audit list [--user ID|EMAIL]
  migrate

Exit codes: 0 done, 1 usage or invalid input, 2 not found, 3 could not reach the database.
`;

class UsageError extends Error {}
class NotFoundError extends Error {}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
    name: { type: 'string' },
    type: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'grant-type': { type: 'string', multiple: true },
    resource: { type: 'string', multiple: true },
    'default-resource': { type: 'string' },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    scope: { type: 'string', multiple: true },
    'first-party': { type: 'boolean' },
    'third-party': { type: 'boolean' },
    pkce: { type: 'boolean' },
    'no-pkce': { type: 'boolean' },
    'logo-uri': { type: 'string' },
    'client-uri': { type: 'string' },
    'policy-uri': { type: 'string' },
    'tos-uri': { type: 'string' },
    'access-token-ttl': { type: 'string' },
    confirm: { type: 'string' },
    'jwks-file': { type: 'string' },
    email: { type: 'string' },
    user: { type: 'string' },
    role: { type: 'string', multiple: true },
    description: { type: 'string' },
    default: { type: 'boolean' },
    'no-default': { type: 'boolean' },
    'role-limited': { type: 'boolean' },
    'no-role-limited': { type: 'boolean' },
    'dpop-required': { type: 'boolean' },
    'no-dpop-required': { type: 'boolean' },
    verified: { type: 'boolean', default: false },
    'given-name': { type: 'string' },
    'family-name': { type: 'string' },
    'preferred-username': { type: 'string' },
    picture: { type: 'string' },
    locale: { type: 'string' },
    zoneinfo: { type: 'string' },
  },
});

interface Output {
  json: unknown;
  text: string;
}

const log = createLogger({ level: 'warn', format: 'json', name: 'latchkey' });

async function withIssuerDatabase<T>(config: Config, work: (db: IssuerClient) => Promise<T>): Promise<T> {
  const database = await openDatabase(config.issuer.database, (adapter) => new IssuerClient({ adapter }), log);
  try {
    return await work(database.client);
  } finally {
    await database.close();
  }
}

async function migrateOne<Client extends PrismaLike>(
  target: DatabaseTarget,
  createClient: ClientFactory<Client>,
  directory: string,
): Promise<string[]> {
  const database = await openDatabase(target, createClient, log);
  try {
    return await migrate(database, directory, log);
  } finally {
    await database.close();
  }
}

/** The consent page's links and the token lifetime given on the command line; "" clears one. */
function linkAndLifetimeOptions() {
  const links = {
    logoUri: values['logo-uri'],
    clientUri: values['client-uri'],
    policyUri: values['policy-uri'],
    tosUri: values['tos-uri'],
  };
  const given = Object.fromEntries(
    Object.entries(links).flatMap(([field, value]) =>
      value === undefined ? [] : [[field, value === '' ? null : value]],
    ),
  ) as Partial<Record<keyof typeof links, string | null>>;
  const ttl = values['access-token-ttl'];
  if (ttl === undefined) return given;
  if (ttl !== '' && !/^\d+$/.test(ttl)) throw new UsageError('--access-token-ttl is a number of seconds');
  return { ...given, accessTokenTtlSeconds: ttl === '' ? null : Number(ttl) };
}

/** What `client update` was told to change; only the options given. */
function clientChanges(): ClientChanges {
  if (values['first-party'] && values['third-party']) throw new UsageError('--first-party or --third-party, not both');
  if (values.pkce && values['no-pkce']) throw new UsageError('--pkce or --no-pkce, not both');
  return {
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values['redirect-uri'] ? { redirectUris: values['redirect-uri'] } : {}),
    ...(values['post-logout-redirect-uri'] ? { postLogoutRedirectUris: values['post-logout-redirect-uri'] } : {}),
    ...(values.scope ? { scopes: values.scope } : {}),
    ...(values['grant-type'] ? { grantTypes: values['grant-type'] } : {}),
    ...(values.resource ? { resources: values.resource } : {}),
    ...(values['default-resource'] !== undefined ? { defaultResource: values['default-resource'] || null } : {}),
    ...(values['first-party'] ? { firstParty: true } : values['third-party'] ? { firstParty: false } : {}),
    ...(values.pkce ? { pkceRequired: true } : values['no-pkce'] ? { pkceRequired: false } : {}),
    ...linkAndLifetimeOptions(),
  };
}

function presentClient(client: ClientRow) {
  return {
    id: client.id,
    name: client.name,
    type: client.type,
    redirectUris: client.redirectUris,
    postLogoutRedirectUris: client.postLogoutRedirectUris,
    grantTypes: client.grantTypes,
    scopes: client.scopes,
    resources: client.resources,
    defaultResource: client.defaultResource,
    firstParty: client.firstParty,
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    pkceRequired: client.pkceRequired,
    accessTokenTtlSeconds: client.accessTokenTtlSeconds,
    logoUri: client.logoUri,
    clientUri: client.clientUri,
    policyUri: client.policyUri,
    tosUri: client.tosUri,
    createdAt: client.createdAt.toISOString(),
  };
}

function presentUser(user: UserRow & { roleNames: string[] }) {
  return {
    id: user.id,
    email: user.email,
    roles: user.roleNames,
    emailVerified: user.emailVerified,
    disabled: user.disabledAt !== null,
    ...profileOf(user),
    createdAt: user.createdAt.toISOString(),
  };
}

function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const text = (value: unknown) =>
    Array.isArray(value)
      ? value.join(',')
      : typeof value === 'string'
        ? value
        : value === undefined || value === null
          ? ''
          : JSON.stringify(value);
  const cells = rows.map((row) => columns.map((column) => text(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((cell) => cell[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password (then Enter, Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function findUser(users: UserRepository, idOrEmail: string | undefined) {
  if (!idOrEmail) throw new UsageError('name a user by id or email');
  const found = idOrEmail.includes('@')
    ? await users.findByEmail(idOrEmail)
    : /^[0-9a-f-]{36}$/i.test(idOrEmail)
      ? await users.findById(idOrEmail)
      : null;
  const user = found ? await users.findWithRoles(found.id) : null;
  if (!user) throw new NotFoundError(`no user ${idOrEmail}`);
  return user;
}

const roleServiceOf = (db: IssuerClient) => roleService(roleRepository(db), apiService(apiRepository(db)));

/** `user roles add|remove ID|EMAIL ROLE...` and `client roles add|remove ID ROLE...`. */
async function assignRoles(
  db: IssuerClient,
  holder: RoleHolder,
  label: string,
  how: string | undefined,
): Promise<Output> {
  const names = positionals.slice(4);
  if ((how !== 'add' && how !== 'remove') || names.length === 0)
    throw new UsageError('roles add|remove needs the holder and at least one role name');
  const roles = roleServiceOf(db);
  const held = how === 'add' ? await roles.assign(holder, names) : await roles.unassign(holder, names);
  await audit(db, {
    type: 'admin.roles_assigned',
    ...('userId' in holder ? { userId: holder.userId } : {}),
    detail: {
      ...('clientId' in holder ? { clientId: holder.clientId } : {}),
      [how === 'add' ? 'added' : 'removed']: names.join(' '),
    },
  });
  return { json: { ...holder, roles: held }, text: `${label} now holds ${held.join(', ') || 'no role'}` };
}

async function clientCommand(config: Config, action: string | undefined, id: string | undefined): Promise<Output> {
  return withIssuerDatabase(config, async (db) => {
    const clients = clientService(clientRepository(db), apiService(apiRepository(db)));
    switch (action) {
      case 'create': {
        const type = values.type as ClientType | undefined;
        if (!values.name || !type || !['web', 'spa', 'cli', 'service'].includes(type))
          throw new UsageError('client create needs --name and --type web|spa|cli|service');
        const jwks = values['jwks-file']
          ? (JSON.parse(await readFile(values['jwks-file'], 'utf8')) as { keys: object[] })
          : undefined;
        const { client, secret } = await clients.create({
          name: values.name,
          type,
          redirectUris: values['redirect-uri'] ?? [],
          postLogoutRedirectUris: values['post-logout-redirect-uri'] ?? [],
          scopes: values.scope ?? [],
          ...(values['grant-type'] ? { grantTypes: values['grant-type'] } : {}),
          firstParty: values['first-party'] ?? false,
          resources: values.resource ?? [],
          defaultResource: values['default-resource'] || null,
          ...(values['no-pkce'] ? { pkceRequired: false } : {}),
          ...(jwks ? { jwks } : {}),
          ...linkAndLifetimeOptions(),
        });
        await audit(db, { type: 'admin.client_created', detail: { clientId: client.id, type: client.type } });
        return {
          json: { ...presentClient(client), ...(secret ? { clientSecret: secret } : {}) },
          text: `created ${client.type} client "${client.name}"\nclient_id:     ${client.id}${secret ? `\nclient_secret: ${secret}\n(shown once: store it now; only a hash is kept)` : ''}`,
        };
      }
      case 'update': {
        const changes = clientChanges();
        if (Object.keys(changes).length === 0) throw new UsageError('client update needs at least one change');
        const client = id ? await clients.update(id, changes) : undefined;
        if (!client) throw new NotFoundError(`no client ${id ?? ''}`);
        const fields = Object.keys(changes).join(',');
        await audit(db, { type: 'admin.client_updated', detail: { clientId: client.id, fields } });
        return { json: presentClient(client), text: `updated client "${client.name}" (${client.id})` };
      }
      case 'roles': {
        const client = positionals[3] ? await clients.find(positionals[3]) : null;
        if (!client) throw new NotFoundError(`no client ${positionals[3] ?? ''}`);
        // Only a client's own tokens (client credentials) carry its roles; a person's come from the person.
        if (!client.grantTypes.includes('client_credentials'))
          throw new UsageError(
            `client ${client.id} gets no tokens of its own (no client_credentials): it holds no roles`,
          );
        return assignRoles(db, { clientId: client.id }, `client ${client.id}`, id);
      }
      case 'list': {
        const rows = (await clients.list()).map(presentClient);
        return { json: rows, text: table(rows, ['id', 'name', 'type', 'firstParty', 'scopes']) };
      }
      case 'show': {
        const client = id ? await clients.find(id) : null;
        if (!client) throw new NotFoundError(`no client ${id ?? ''}`);
        const shown = { ...presentClient(client), roles: await roleServiceOf(db).rolesOf({ clientId: client.id }) };
        return {
          json: shown,
          text: Object.entries(shown)
            .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(' ') : String(value)}`)
            .join('\n'),
        };
      }
      case 'delete': {
        if (!id || !(await clients.delete(id))) throw new NotFoundError(`no client ${id ?? ''}`);
        await audit(db, { type: 'admin.client_deleted', detail: { clientId: id } });
        return { json: { deleted: id }, text: `deleted client ${id}` };
      }
      case 'rotate-secret': {
        const client = id ? await clients.find(id) : null;
        if (!client) throw new NotFoundError(`no client ${id ?? ''}`);
        const secret = await clients.rotateSecret(client.id);
        if (!secret) throw new UsageError(`client ${client.id} is public or uses private_key_jwt: it has no secret`);
        await audit(db, { type: 'admin.client_secret_rotated', detail: { clientId: client.id } });
        return {
          json: { id: client.id, clientSecret: secret },
          text: `new client_secret for ${client.id}: ${secret}\n(shown once; the old secret no longer works)`,
        };
      }
      default:
        throw new UsageError(`unknown client command "${action ?? ''}"`);
    }
  });
}

async function userCommand(config: Config, action: string | undefined, target: string | undefined): Promise<Output> {
  return withIssuerDatabase(config, async (db) => {
    const users = userRepository(db);
    switch (action) {
      case 'create': {
        if (!values.email) throw new UsageError('user create needs --email');
        const roles = values.role;
        const known = new Set((await roleServiceOf(db).list()).map((role) => role.name));
        const unknown = (roles ?? []).filter((role) => !known.has(role));
        if (unknown.length) throw new UsageError(`no role ${unknown.join(', ')} (see latchkey role list)`);
        const password = await readPasswordFromStdin();
        const accounts = accountCreation({
          users,
          passwords: passwordHasher(config.issuer.passwords),
          policy: passwordPolicy(config.issuer.passwords),
          events: securityEvents(db, log),
        });
        const created = await accounts.create({
          email: values.email,
          password,
          ...(roles ? { roles } : {}),
          emailVerified: values.verified,
          event: { type: 'admin.user_created', actor: 'admin-cli', detail: { roles: roles?.join(' ') ?? 'default' } },
        });
        if (created.outcome === 'password-refused') throw new UsageError(`password refused: ${created.problem}`);
        if (created.outcome === 'exists')
          throw new UsageError(`a user with email ${normalizeEmail(values.email)} already exists`);
        const user = (await users.findWithRoles(created.user.id))!;
        return {
          json: presentUser(user),
          text: `created ${user.email} (${user.id}) with roles ${user.roleNames.join(', ') || 'none'}`,
        };
      }
      case 'list': {
        const rows = (await users.list()).map(presentUser);
        return { json: rows, text: table(rows, ['id', 'email', 'role', 'emailVerified', 'disabled']) };
      }
      case 'update':
        return updateProfile(db, users, target);
      case 'roles': {
        const user = await findUser(users, positionals[3]);
        return assignRoles(db, { userId: user.id }, user.email, target);
      }
      case 'show': {
        const shown = presentUser(await findUser(users, target));
        return {
          json: shown,
          text: Object.entries(shown)
            .map(([key, value]) => `${key}: ${String(value)}`)
            .join('\n'),
        };
      }
      case 'disable': {
        const user = await findUser(users, target);
        const cache = openCache(config.cache, log);
        try {
          const { revokedGrants: grants } = await disableAccount(db, cache, user.id);
          await audit(db, { type: 'admin.user_disabled', userId: user.id, detail: { revokedGrants: grants } });
          return {
            json: { id: user.id, disabled: true, revokedGrants: grants },
            text: `disabled ${user.email}; ended ${grants} grant(s) and every session`,
          };
        } finally {
          await cache.close();
        }
      }
      case 'delete':
        return deleteUser(config, db, users, target);
      case 'enable': {
        const user = await findUser(users, target);
        await users.setDisabled(user.id, null);
        await audit(db, { type: 'admin.user_enabled', userId: user.id });
        return { json: { id: user.id, disabled: false }, text: `enabled ${user.email}` };
      }
      case 'unlock': {
        const user = await findUser(users, target);
        const cache = openCache(config.cache, log);
        try {
          await lockout(cache, lockRepository(db), config.issuer.lockout).unlock(user.id);
        } finally {
          await cache.close();
        }
        await audit(db, { type: 'account.unlocked', userId: user.id });
        return { json: { id: user.id, unlocked: true }, text: `unlocked ${user.email}` };
      }
      default:
        throw new UsageError(`unknown user command "${action ?? ''}"`);
    }
  });
}

async function keysCommand(config: Config, action: string | undefined): Promise<Output> {
  return withIssuerDatabase(config, async (db) => {
    const ring = configuredKeyRing(
      db,
      config,
      await resolveKeyEncryptionKey(config.issuer.keyEncryptionKey, config.dataDir, log),
    );
    switch (action) {
      case 'list': {
        const now = new Date();
        const rows = (await ring.list()).map((key) => ({
          kid: key.kid,
          purpose: key.purpose,
          alg: key.alg,
          state:
            key.removesAt && key.removesAt <= now
              ? 'removed'
              : key.activatesAt > now
                ? 'published'
                : key.retiresAt && key.retiresAt <= now
                  ? 'retired'
                  : 'signing',
          activatesAt: key.activatesAt.toISOString(),
          retiresAt: key.retiresAt?.toISOString() ?? '',
          removesAt: key.removesAt?.toISOString() ?? '',
        }));
        return {
          json: rows,
          text: table(rows, ['kid', 'purpose', 'alg', 'state', 'activatesAt', 'retiresAt', 'removesAt']),
        };
      }
      case 'rotate': {
        await ring.ensureKeys();
        const created = await ring.rotate();
        await audit(db, { type: 'admin.keys_rotated', detail: { created: created.length } });
        const lead = config.issuer.keys.publishLeadSeconds;
        return {
          json: { created, signsFrom: new Date(Date.now() + lead * 1000).toISOString() },
          text: `created ${created.length} key(s), published now, signing in ${lead} s:\n${created.join('\n')}`,
        };
      }
      default:
        throw new UsageError(`unknown keys command "${action ?? ''}"`);
    }
  });
}

/** `user delete`: only with the account's address typed again, since nothing of it can be restored. */
async function deleteUser(
  config: Config,
  db: IssuerClient,
  users: UserRepository,
  target: string | undefined,
): Promise<Output> {
  const user = await findUser(users, target);
  if (normalizeEmail(values.confirm ?? '') !== user.email)
    throw new UsageError(`user delete erases ${user.email} for good: repeat its address with --confirm`);
  const cache = openCache(config.cache, log);
  try {
    const locks = lockout(cache, lockRepository(db), config.issuer.lockout);
    const { revokedGrants } = await deleteAccount(db, cache, locks, user.id);
    await audit(db, { type: 'admin.user_deleted', userId: user.id, detail: { revokedGrants } });
    return {
      json: { id: user.id, deleted: true, revokedGrants },
      text: `deleted ${user.email} and ended ${revokedGrants} grant(s)`,
    };
  } finally {
    await cache.close();
  }
}

/** `user update`: the profile fields given, checked together; a refusal names each field. */
async function updateProfile(db: IssuerClient, users: UserRepository, target: string | undefined): Promise<Output> {
  const user = await findUser(users, target);
  // The profile fields given on the command line, by claim name; --name is the `name` claim.
  const given = { name: values.name, given_name: values['given-name'], family_name: values['family-name'] };
  const more = {
    preferred_username: values['preferred-username'],
    picture: values.picture,
    locale: values.locale,
  };
  const input = Object.fromEntries(
    Object.entries({ ...given, ...more, zoneinfo: values.zoneinfo }).filter(([, value]) => value !== undefined),
  ) as Record<string, string>;
  if (Object.keys(input).length === 0) throw new UsageError('user update needs at least one profile field');
  const result = await profiles({ users, events: securityEvents(db, log) }).update(user.id, input, {
    actor: 'admin-cli',
  });
  if (result.outcome === 'refused')
    throw new UsageError(
      Object.entries(result.problems)
        .map(([field, problem]) => `${field}: ${problem}`)
        .join('; '),
    );
  const updated = presentUser((await users.findWithRoles(user.id))!);
  return { json: updated, text: `updated the profile of ${updated.email}` };
}

async function auditCommand(config: Config, action: string | undefined): Promise<Output> {
  if (action !== 'list') throw new UsageError(`unknown audit command "${action ?? ''}"`);
  return withIssuerDatabase(config, async (db) => {
    const userId = values.user ? (await findUser(userRepository(db), values.user)).id : undefined;
    const rows = (await securityEvents(db, log).list(userId ? { userId } : {})).map((event) => ({
      at: event.at.toISOString(),
      type: event.type,
      userId: event.userId ?? '',
      actor: event.actor,
      ip: event.ip ?? '',
      detail: event.detail ?? {},
    }));
    return { json: rows, text: table(rows, ['at', 'type', 'userId', 'actor', 'ip', 'detail']) };
  });
}

function audit(db: IssuerClient, event: Omit<SecurityEvent, 'actor'>): Promise<void> {
  return securityEvents(db, log).record({ ...event, actor: 'admin-cli' });
}

async function migrateCommand(config: Config): Promise<Output> {
  const issuer = await migrateOne(
    config.issuer.database,
    (adapter) => new IssuerClient({ adapter }),
    MIGRATIONS.issuer,
  );
  const tasks = await migrateOne(config.taskApi.database, (adapter) => new TasksClient({ adapter }), MIGRATIONS.tasks);
  return {
    json: {
      issuer: { database: describeTarget(config.issuer.database), applied: issuer },
      tasks: { database: describeTarget(config.taskApi.database), applied: tasks },
    },
    text: [
      `issuer (${describeTarget(config.issuer.database)}): ${issuer.length ? `applied ${issuer.join(', ')}` : 'up to date'}`,
      `tasks (${describeTarget(config.taskApi.database)}): ${tasks.length ? `applied ${tasks.join(', ')}` : 'up to date'}`,
    ].join('\n'),
  };
}

async function main(): Promise<number> {
  const [command, action, target, ...rest] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 1;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    exitOnStartupError('latchkey', error);
  }
  try {
    const output =
      command === 'client'
        ? await clientCommand(config, action, target)
        : command === 'user'
          ? await userCommand(config, action, target)
          : command === 'api'
            ? await withIssuerDatabase(config, async (db) => {
                const input = {
                  action,
                  target,
                  rest,
                  name: values.name,
                  scopes: values.scope,
                  accessTokenTtl: values['access-token-ttl'],
                  roleLimited: values['role-limited'] ? true : values['no-role-limited'] ? false : undefined,
                  dpopRequired: values['dpop-required'] ? true : values['no-dpop-required'] ? false : undefined,
                };
                const output = await apiCommand(apiService(apiRepository(db)), input);
                if (output.event) await audit(db, output.event);
                return output;
              })
            : command === 'role'
              ? await withIssuerDatabase(config, async (db) => {
                  const isDefault = values.default ? true : values['no-default'] ? false : undefined;
                  const input = { action, target, rest, name: values.name, description: values.description, isDefault };
                  const output = await roleCommand(roleServiceOf(db), input);
                  if (output.event) await audit(db, output.event);
                  return output;
                })
              : command === 'keys'
                ? await keysCommand(config, action)
                : command === 'audit'
                  ? await auditCommand(config, action)
                  : command === 'migrate'
                    ? await migrateCommand(config)
                    : undefined;
    if (!output) throw new UsageError(`unknown command "${command}"`);
    process.stdout.write(values.json ? `${JSON.stringify(output.json)}\n` : `${output.text}\n`);
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    if (values.json) process.stdout.write(`${JSON.stringify({ error: message })}\n`);
    process.stderr.write(`latchkey: ${message}\n`);
    if (
      error instanceof UsageError ||
      error instanceof ClientValidationError ||
      error instanceof ApiUsageError ||
      error instanceof ApiValidationError ||
      error instanceof RoleUsageError ||
      error instanceof RoleValidationError
    ) {
      if (error instanceof UsageError && !values.json) process.stderr.write(USAGE);
      return 1;
    }
    if (error instanceof NotFoundError || error instanceof ApiNotFoundError || error instanceof RoleNotFoundError)
      return 2;
    return 3;
  }
}

// Exit explicitly: Prisma's schema engine leaves a timer behind that would hold the process for 10 s.
process.exit(await main());
