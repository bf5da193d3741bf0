import { readFile } from 'node:fs/promises';
import { CliError, EXIT, type AdminConnection } from '../admin-connection.ts';
import { either, fields, table, type CommandInput, type Output } from '../cli-options.ts';

type Client = Record<string, unknown> & { id: string; name: string; type: string; clientSecret?: string };
const usage = (message: string) => new CliError(EXIT.invalid, message);

/** The consent page's links and the token lifetime given on the command line; "" clears one. */
function linkAndLifetimeOptions(values: CommandInput['values']) {
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
  );
  const ttl = values['access-token-ttl'];
  if (ttl === undefined) return given;
  if (ttl !== '' && !/^\d+$/.test(ttl)) throw usage('--access-token-ttl is a number of seconds');
  return { ...given, accessTokenTtlSeconds: ttl === '' ? null : Number(ttl) };
}

/** What `client create|update` was told; only the options given. */
function clientFields(values: CommandInput['values']) {
  if (values['first-party'] && values['third-party']) throw usage('--first-party or --third-party, not both');
  if (values.pkce && values['no-pkce']) throw usage('--pkce or --no-pkce, not both');
  const firstParty = either(values['first-party'], values['third-party']);
  const pkceRequired = either(values.pkce, values['no-pkce']);
  return {
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values['redirect-uri'] ? { redirectUris: values['redirect-uri'] } : {}),
    ...(values['post-logout-redirect-uri'] ? { postLogoutRedirectUris: values['post-logout-redirect-uri'] } : {}),
    ...(values.scope ? { scopes: values.scope } : {}),
    ...(values['grant-type'] ? { grantTypes: values['grant-type'] } : {}),
    ...(values['token-exchange-type'] ? { tokenExchangeSubjectTypes: values['token-exchange-type'] } : {}),
    ...(values.resource ? { resources: values.resource } : {}),
    ...(values['default-resource'] !== undefined ? { defaultResource: values['default-resource'] || null } : {}),
    ...(firstParty !== undefined ? { firstParty } : {}),
    ...(pkceRequired !== undefined ? { pkceRequired } : {}),
    ...linkAndLifetimeOptions(values),
  };
}

const path = (id: string | undefined) => {
  if (!id) throw usage('name a client by id');
  return `/clients/${encodeURIComponent(id)}`;
};

/** `latchkey client ...` */
export async function clientCommand(
  admin: AdminConnection,
  { action, target, rest, values }: CommandInput,
): Promise<Output> {
  switch (action) {
    case 'create': {
      const type = values.type;
      if (!values.name || !type || !['web', 'spa', 'cli', 'service'].includes(type))
        throw usage('client create needs --name and --type web|spa|cli|service');
      const jwks = values['jwks-file']
        ? (JSON.parse(await readFile(values['jwks-file'], 'utf8')) as unknown)
        : undefined;
      const client = await admin.call<Client>('POST', '/clients', {
        ...clientFields(values),
        type,
        ...(jwks ? { jwks } : {}),
      });
      const secret = client.clientSecret
        ? `\nclient_secret: ${client.clientSecret}\n(shown once: store it now; only a hash is kept)`
        : '';
      return {
        json: client,
        text: `created ${client.type} client "${client.name}"\nclient_id:     ${client.id}${secret}`,
      };
    }
    case 'update': {
      const changes = clientFields(values);
      if (Object.keys(changes).length === 0) throw usage('client update needs at least one change');
      const client = await admin.call<Client>('PATCH', path(target), changes);
      return { json: client, text: `updated client "${client.name}" (${client.id})` };
    }
    case 'list': {
      const page = await admin.call<{ items: Client[] }>('GET', '/clients');
      return { json: page.items, text: table(page.items, ['id', 'name', 'type', 'firstParty', 'scopes']) };
    }
    case 'show': {
      const client = await admin.call<Client>('GET', path(target));
      return { json: client, text: fields(client) };
    }
    case 'delete':
      await admin.call('DELETE', path(target));
      return { json: { deleted: target }, text: `deleted client ${target ?? ''}` };
    case 'rotate-secret': {
      const rotated = await admin.call<{ clientId: string; clientSecret: string }>('POST', `${path(target)}/secret`);
      return {
        json: rotated,
        text: `client_secret: ${rotated.clientSecret}\n(shown once: the old secret no longer works)`,
      };
    }
    case 'roles': {
      const [id, ...names] = rest;
      if ((target !== 'add' && target !== 'remove') || !id || names.length === 0)
        throw usage('client roles add|remove ID ROLE...');
      let held: { roles: string[] } = { roles: [] };
      if (target === 'add') held = await admin.call('POST', `${path(id)}/roles`, { roles: names });
      else for (const name of names) held = await admin.call('DELETE', `${path(id)}/roles/${encodeURIComponent(name)}`);
      return {
        json: { clientId: id, roles: held.roles },
        text: `client ${id} now holds ${held.roles.join(', ') || 'no role'}`,
      };
    }
    default:
      throw usage(`unknown client command "${action ?? ''}"`);
  }
}
