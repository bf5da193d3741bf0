import { CliError, EXIT, type AdminConnection } from '../admin-connection.ts';
import { either, type CommandInput, type Output } from '../cli-options.ts';

interface Api {
  id: string;
  identifier: string;
  name: string;
  roleLimited: boolean;
  dpopRequired: boolean;
  scopes: Array<{ name: string; description: string }>;
}

const usage = (message: string) => new CliError(EXIT.invalid, message);

/** `name=A sentence a person understands` → a scope. */
function parseScope(pair: string): { name: string; description: string } {
  const separator = pair.indexOf('=');
  if (separator <= 0) throw usage(`--scope ${pair}: write it as name=sentence`);
  return { name: pair.slice(0, separator), description: pair.slice(separator + 1) };
}

function parseTtl(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === '') return null;
  if (!/^\d+$/.test(value)) throw usage('--access-token-ttl is a number of seconds');
  return Number(value);
}

const describe = (api: Api) =>
  [
    `${api.name} (${api.identifier})${api.roleLimited ? ', limited by roles' : ''}${api.dpopRequired ? ', DPoP required' : ''}`,
    ...api.scopes.map((scope) => `  ${scope.name}: ${scope.description}`),
  ].join('\n');

/** The API with this identifier (paths name APIs by id). */
async function apiNamed(admin: AdminConnection, identifier: string | undefined): Promise<Api> {
  if (!identifier) throw usage('name the API by its identifier');
  const page = await admin.call<{ items: Api[] }>('GET', `/apis?identifier=${encodeURIComponent(identifier)}`);
  if (!page.items[0]) throw new CliError(EXIT.notFound, `no API ${identifier}`);
  return page.items[0];
}

/** The two switches given on the command line, and only those. */
function switches(values: CommandInput['values']) {
  const roleLimited = either(values['role-limited'], values['no-role-limited']);
  const dpopRequired = either(values['dpop-required'], values['no-dpop-required']);
  return {
    ...(roleLimited !== undefined ? { roleLimited } : {}),
    ...(dpopRequired !== undefined ? { dpopRequired } : {}),
  };
}

/** `latchkey api ...`: the APIs Latchkey issues tokens for, and their scopes. */
export async function apiCommand(
  admin: AdminConnection,
  { action, target, rest, values }: CommandInput,
): Promise<Output> {
  switch (action) {
    case 'create': {
      if (!target || !values.name) throw usage('api create needs an identifier and --name');
      const ttl = parseTtl(values['access-token-ttl']);
      const api = await admin.call<Api>('POST', '/apis', {
        identifier: target,
        name: values.name,
        scopes: (values.scope ?? []).map(parseScope),
        ...(ttl !== undefined ? { accessTokenTtlSeconds: ttl } : {}),
        ...switches(values),
      });
      return { json: api, text: `registered ${describe(api)}` };
    }
    case 'list': {
      const page = await admin.call<{ items: Api[] }>('GET', '/apis');
      return {
        json: page.items,
        text:
          page.items
            .map((api) => `${api.identifier}  ${api.name}  ${api.scopes.map((scope) => scope.name).join(' ')}`)
            .join('\n') || '(none)',
      };
    }
    case 'show': {
      const api = await apiNamed(admin, target);
      return { json: api, text: describe(api) };
    }
    case 'update': {
      const ttl = parseTtl(values['access-token-ttl']);
      const changes = {
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(ttl !== undefined ? { accessTokenTtlSeconds: ttl } : {}),
        ...switches(values),
      };
      if (Object.keys(changes).length === 0)
        throw usage('api update needs --name, --access-token-ttl, --[no-]role-limited or --[no-]dpop-required');
      const api = await admin.call<Api>('PATCH', `/apis/${(await apiNamed(admin, target)).id}`, changes);
      return { json: api, text: `updated ${describe(api)}` };
    }
    case 'delete': {
      await admin.call('DELETE', `/apis/${(await apiNamed(admin, target)).id}`);
      return { json: { deleted: target }, text: `deleted ${target ?? ''}, and every client's and role's access to it` };
    }
    case 'scope': {
      const api = await apiNamed(admin, rest[0]);
      if (target === 'add') {
        if (!values.scope?.length) throw usage('api scope add needs --scope name=sentence');
        const updated = await admin.call<Api>('POST', `/apis/${api.id}/scopes`, {
          scopes: values.scope.map(parseScope),
        });
        return { json: updated, text: `updated ${describe(updated)}` };
      }
      if (target === 'remove' && rest[1]) {
        const updated = await admin.call<Api>('DELETE', `/apis/${api.id}/scopes/${encodeURIComponent(rest[1])}`);
        return { json: updated, text: `removed ${rest[1]}; ${describe(updated)}` };
      }
      throw usage('api scope add URI --scope name=sentence... | api scope remove URI NAME');
    }
    default:
      throw usage(`unknown api command "${action ?? ''}"`);
  }
}
