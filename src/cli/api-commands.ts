import type { ApiRow } from '../issuer/apis/api-repository.ts';
import type { ApiService } from '../issuer/apis/api-service.ts';

/** `latchkey api ...`: registering the APIs Latchkey issues tokens for, and their scopes. */

export interface ApiCommandInput {
  action: string | undefined;
  /** The API's identifier (`api show URI`), or `add`/`remove` for `api scope`. */
  target: string | undefined;
  /** For `api scope add|remove URI`: the URI. */
  rest: string[];
  name?: string;
  /** `name=sentence` pairs. */
  scopes?: string[];
  accessTokenTtl?: string;
  roleLimited?: boolean | undefined;
  dpopRequired?: boolean | undefined;
}

export interface ApiCommandOutput {
  json: unknown;
  text: string;
  /** The security event to record for a change. */
  event?: { type: 'admin.api_changed'; detail: Record<string, string> };
}

export class ApiUsageError extends Error {}
export class ApiNotFoundError extends Error {}

export function presentApi(api: ApiRow) {
  return {
    identifier: api.identifier,
    name: api.name,
    accessTokenTtlSeconds: api.accessTokenTtlSeconds,
    roleLimited: api.roleLimited,
    dpopRequired: api.dpopRequired,
    scopes: api.scopes.map((scope) => ({ name: scope.name, description: scope.description })),
    createdAt: api.createdAt.toISOString(),
  };
}

/** `name=A sentence a person understands` → a scope. */
function parseScope(pair: string): { name: string; description: string } {
  const separator = pair.indexOf('=');
  if (separator <= 0) throw new ApiUsageError(`--scope ${pair}: write it as name=sentence`);
  return { name: pair.slice(0, separator), description: pair.slice(separator + 1) };
}

function parseTtl(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === '') return null;
  if (!/^\d+$/.test(value)) throw new ApiUsageError('--access-token-ttl is a number of seconds');
  return Number(value);
}

/** The two switches given on the command line, and only those. */
const flags = (input: ApiCommandInput) => ({
  ...(input.roleLimited !== undefined ? { roleLimited: input.roleLimited } : {}),
  ...(input.dpopRequired !== undefined ? { dpopRequired: input.dpopRequired } : {}),
});

const describe = (api: ApiRow) =>
  [
    `${api.name} (${api.identifier})${api.roleLimited ? ', limited by roles' : ''}${api.dpopRequired ? ', DPoP required' : ''}`,
    ...api.scopes.map((scope) => `  ${scope.name}: ${scope.description}`),
  ].join('\n');

export async function apiCommand(apis: ApiService, input: ApiCommandInput): Promise<ApiCommandOutput> {
  const changed = (identifier: string, what: string) => ({
    type: 'admin.api_changed' as const,
    detail: { identifier, what },
  });
  switch (input.action) {
    case 'create': {
      if (!input.target || !input.name) throw new ApiUsageError('api create needs an identifier and --name');
      const api = await apis.create({
        identifier: input.target,
        name: input.name,
        accessTokenTtlSeconds: parseTtl(input.accessTokenTtl) ?? null,
        scopes: (input.scopes ?? []).map(parseScope),
        ...flags(input),
      });
      return { json: presentApi(api), text: `registered ${describe(api)}`, event: changed(api.identifier, 'created') };
    }
    case 'list': {
      const rows = (await apis.list()).map(presentApi);
      return {
        json: rows,
        text: rows
          .map((api) => `${api.identifier}  ${api.name}  ${api.scopes.map((scope) => scope.name).join(' ')}`)
          .join('\n'),
      };
    }
    case 'show': {
      const api = input.target ? await apis.find(input.target) : null;
      if (!api) throw new ApiNotFoundError(`no API ${input.target ?? ''}`);
      return { json: presentApi(api), text: describe(api) };
    }
    case 'update': {
      if (!input.target) throw new ApiUsageError('api update needs an identifier');
      const ttl = parseTtl(input.accessTokenTtl);
      const changes = {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(ttl !== undefined ? { accessTokenTtlSeconds: ttl } : {}),
        ...flags(input),
      };
      if (Object.keys(changes).length === 0)
        throw new ApiUsageError(
          'api update needs --name, --access-token-ttl, --[no-]role-limited or --[no-]dpop-required',
        );
      const api = await apis.update(input.target, changes);
      return { json: presentApi(api), text: `updated ${describe(api)}`, event: changed(api.identifier, 'updated') };
    }
    case 'delete': {
      if (!input.target) throw new ApiUsageError('api delete needs an identifier');
      await apis.delete(input.target);
      return {
        json: { deleted: input.target },
        text: `deleted ${input.target}, and every client's access to it`,
        event: changed(input.target, 'deleted'),
      };
    }
    case 'scope':
      return scopeCommand(apis, input, changed);
    default:
      throw new ApiUsageError(`unknown api command "${input.action ?? ''}"`);
  }
}

async function scopeCommand(
  apis: ApiService,
  input: ApiCommandInput,
  changed: (identifier: string, what: string) => NonNullable<ApiCommandOutput['event']>,
): Promise<ApiCommandOutput> {
  const identifier = input.rest[0];
  if (!identifier) throw new ApiUsageError('api scope add|remove needs the API identifier');
  if (input.target === 'add') {
    if (!input.scopes?.length) throw new ApiUsageError('api scope add needs --scope name=sentence');
    let api: ApiRow | undefined;
    for (const scope of input.scopes.map(parseScope)) api = await apis.addScope(identifier, scope);
    return { json: presentApi(api!), text: `updated ${describe(api!)}`, event: changed(identifier, 'scope added') };
  }
  if (input.target === 'remove') {
    const name = input.rest[1];
    if (!name) throw new ApiUsageError('api scope remove needs the scope name');
    const api = await apis.removeScope(identifier, name);
    return {
      json: presentApi(api),
      text: `removed ${name}; ${describe(api)}`,
      event: changed(identifier, 'scope removed'),
    };
  }
  throw new ApiUsageError('api scope add|remove');
}
