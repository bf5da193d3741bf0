import type { ApiRow } from '../apis/api-repository.ts';
import type { ApiService } from '../apis/api-service.ts';
import type { RoleHolder, RoleRepository, RoleRow } from './role-repository.ts';

export class RoleValidationError extends Error {}
export class RoleNotFoundError extends Error {}

/** Letters, digits and `. _ : -`, starting with a letter or digit: safe in a claim, a URL and a shell. */
const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

function checkName(name: string): void {
  if (!ROLE_NAME.test(name))
    throw new RoleValidationError(
      `role name "${name}" must be 1-64 letters, digits or . _ : -, starting with a letter or digit`,
    );
}

function checkDescription(description: string): void {
  if (description.length > 500) throw new RoleValidationError('a role description is at most 500 characters');
}

/**
 * Roles and their permissions, and who holds them: each change checked whole before anything is
 * written (a grant naming one scope its API lacks changes nothing).
 */
export function roleService(roles: RoleRepository, apis: ApiService) {
  const existing = async (name: string): Promise<RoleRow> => {
    const role = await roles.findByName(name);
    if (!role) throw new RoleNotFoundError(`no role ${name}`);
    return role;
  };
  const apiWithScopes = async (identifier: string, scopes: string[]): Promise<ApiRow> => {
    if (scopes.length === 0) throw new RoleValidationError('name at least one scope');
    const api = await apis.find(identifier);
    if (!api) throw new RoleValidationError(`no API ${identifier}`);
    const unknown = scopes.filter((scope) => !api.scopes.some((own) => own.name === scope));
    if (unknown.length) throw new RoleValidationError(`${identifier} has no scope ${unknown.join(', ')}`);
    return api;
  };
  const rolesNamed = async (names: string[]) => {
    if (names.length === 0) throw new RoleValidationError('name at least one role');
    const found = await roles.findByNames(names);
    const unknown = names.filter((name) => !found.some((role) => role.name === name));
    if (unknown.length) throw new RoleNotFoundError(`no role ${unknown.join(', ')}`);
    return found.map((role) => role.id);
  };

  const service = {
    find: (name: string) => roles.findByName(name),
    get: existing,
    list: () => roles.list(),
    async create(input: { name: string; description?: string; isDefault?: boolean }): Promise<RoleRow> {
      checkName(input.name);
      const description = (input.description ?? '').trim();
      checkDescription(description);
      if (await roles.findByName(input.name)) throw new RoleValidationError(`a role ${input.name} already exists`);
      await roles.create({ name: input.name, description, isDefault: input.isDefault ?? false });
      return existing(input.name);
    },
    /** Creates the role unless it exists (a concurrent creator wins quietly); an existing one is left as it is. */
    async ensure(input: { name: string; description?: string; isDefault?: boolean }): Promise<void> {
      if (await roles.findByName(input.name)) return;
      await service.create(input).catch(async (error: unknown) => {
        if (!(await roles.findByName(input.name))) throw error;
      });
    },
    async update(
      name: string,
      changes: { name?: string; description?: string; isDefault?: boolean },
    ): Promise<RoleRow> {
      const role = await existing(name);
      if (changes.name !== undefined && changes.name !== name) {
        checkName(changes.name);
        if (await roles.findByName(changes.name))
          throw new RoleValidationError(`a role ${changes.name} already exists`);
      }
      const description = changes.description?.trim();
      if (description !== undefined) checkDescription(description);
      await roles.update(role.id, { ...changes, ...(description !== undefined ? { description } : {}) });
      return existing(changes.name ?? name);
    },
    async delete(name: string): Promise<RoleRow> {
      const role = await existing(name);
      await roles.delete(role.id);
      return role;
    },
    async grant(name: string, api: string, scopes: string[]): Promise<RoleRow> {
      const role = await existing(name);
      await roles.grant(role.id, (await apiWithScopes(api, scopes)).id, scopes);
      return existing(name);
    },
    async revoke(name: string, api: string, scopes: string[]): Promise<RoleRow> {
      const role = await existing(name);
      await roles.revoke(role.id, (await apiWithScopes(api, scopes)).id, scopes);
      return existing(name);
    },
    /** Gives roles to a person or a service client; every name must exist, or nothing changes. */
    async assign(holder: RoleHolder, names: string[]): Promise<string[]> {
      await roles.add(holder, await rolesNamed(names));
      return (await roles.grantsOf(holder)).roles;
    },
    async unassign(holder: RoleHolder, names: string[]): Promise<string[]> {
      await roles.remove(holder, await rolesNamed(names));
      return (await roles.grantsOf(holder)).roles;
    },
    /** Refuses (as invalid input) a list naming a role that does not exist. */
    async requireAll(names: string[]): Promise<void> {
      const found = new Set((await roles.findByNames(names)).map((role) => role.name));
      const unknown = names.filter((name) => !found.has(name));
      if (unknown.length) throw new RoleValidationError(`no role ${unknown.join(', ')}`);
    },
    rolesOf: async (holder: RoleHolder) => (await roles.grantsOf(holder)).roles,
  };
  return service;
}

export type RoleService = ReturnType<typeof roleService>;
