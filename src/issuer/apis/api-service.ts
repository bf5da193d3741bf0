import type { ApiRepository, ApiRow } from './api-repository.ts';

export class ApiValidationError extends Error {}

export interface NewApi {
  identifier: string;
  name: string;
  accessTokenTtlSeconds?: number | null;
  scopes?: Array<{ name: string; description: string }>;
  /** Default true: tokens carry only the scopes their subject holds through roles. */
  roleLimited?: boolean;
  dpopRequired?: boolean;
}

export interface ApiChanges {
  name?: string;
  accessTokenTtlSeconds?: number | null;
  roleLimited?: boolean;
  dpopRequired?: boolean;
}

const SCOPE_NAME = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
const OIDC_RESERVED = new Set(['openid', 'offline_access', 'email', 'profile', 'address', 'phone']);

function checkIdentifier(identifier: string): void {
  // RFC 8707: an absolute URI, without a fragment.
  if (!URL.canParse(identifier) || new URL(identifier).hash || !/^[a-z][a-z0-9+.-]*:/i.test(identifier))
    throw new ApiValidationError(`identifier ${identifier} is not an absolute URI without a fragment`);
}

/** RFC 6749 §3.3 scope-token characters; and not a name OpenID Connect already means something by. */
function checkScope(scope: { name: string; description: string }): void {
  if (!SCOPE_NAME.test(scope.name))
    throw new ApiValidationError(
      `scope "${scope.name}" must be 1-128 printable characters without spaces, quotes or backslashes`,
    );
  if (OIDC_RESERVED.has(scope.name)) throw new ApiValidationError(`scope "${scope.name}" is an OpenID Connect scope`);
  if (!scope.description.trim())
    throw new ApiValidationError(`scope "${scope.name}" needs a sentence a person understands`);
}

function checkTtl(ttl: number | null | undefined): void {
  if (ttl !== null && ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 60 && ttl <= 86_400))
    throw new ApiValidationError('an access-token lifetime is a whole number of seconds from 60 to 86400');
}

/** Registering APIs and their scopes: each change checked whole before anything is written. */
export function apiService(repository: ApiRepository) {
  const existing = async (identifier: string): Promise<ApiRow> => {
    const api = await repository.findByIdentifier(identifier);
    if (!api) throw new ApiValidationError(`no API ${identifier}`);
    return api;
  };
  const service = {
    async create(input: NewApi): Promise<ApiRow> {
      checkIdentifier(input.identifier);
      if (!input.name.trim()) throw new ApiValidationError('an API needs a name');
      checkTtl(input.accessTokenTtlSeconds);
      const scopes = input.scopes ?? [];
      scopes.forEach(checkScope);
      if (new Set(scopes.map((scope) => scope.name)).size !== scopes.length)
        throw new ApiValidationError('a scope name appears twice');
      if (await repository.findByIdentifier(input.identifier))
        throw new ApiValidationError(`an API ${input.identifier} already exists`);
      return repository.create({
        ...input,
        name: input.name.trim(),
        accessTokenTtlSeconds: input.accessTokenTtlSeconds ?? null,
        roleLimited: input.roleLimited ?? true,
        dpopRequired: input.dpopRequired ?? false,
        scopes,
      });
    },
    async update(identifier: string, changes: ApiChanges): Promise<ApiRow> {
      await existing(identifier);
      if (changes.name !== undefined && !changes.name.trim()) throw new ApiValidationError('an API needs a name');
      checkTtl(changes.accessTokenTtlSeconds);
      return repository.update(identifier, changes);
    },
    async addScope(identifier: string, scope: { name: string; description: string }): Promise<ApiRow> {
      const api = await existing(identifier);
      checkScope(scope);
      await repository.addScope(api.id, scope);
      return (await repository.findByIdentifier(identifier))!;
    },
    async removeScope(identifier: string, name: string): Promise<ApiRow> {
      const api = await existing(identifier);
      if (!api.scopes.some((scope) => scope.name === name))
        throw new ApiValidationError(`${identifier} has no scope ${name}`);
      await repository.remove(api, [name]);
      return (await repository.findByIdentifier(identifier))!;
    },
    async delete(identifier: string): Promise<void> {
      await repository.remove(await existing(identifier), 'all');
    },
    /**
     * Registers the API unless it exists; true when this call registered it. Instances (or test
     * suites) starting together may race: one creates it, the others find it.
     */
    async ensure(input: NewApi): Promise<boolean> {
      if (await repository.findByIdentifier(input.identifier)) return false;
      try {
        await service.create(input);
        return true;
      } catch (error) {
        if (await repository.findByIdentifier(input.identifier)) return false;
        throw error;
      }
    },
    find: (identifier: string) => repository.findByIdentifier(identifier),
    findById: (id: string) => repository.findById(id),
    list: () => repository.list(),
  };
  return service;
}

export type ApiService = ReturnType<typeof apiService>;
