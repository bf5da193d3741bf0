import type pg from 'pg';
import type { PrismaClient, Role } from '../../shared/database/generated/issuer/client.ts';
import { hotStatements } from '../../shared/database/hot-statements.ts';
import { isUuid } from '../../shared/database/uuid.ts';

/** A permission as people write it: an API's identifier and one of its scopes. */
export interface Permission {
  api: string;
  scope: string;
}

export type RoleRow = Role & { permissions: Permission[]; users: number; clients: number };

/** Whose roles: a person (by account id) or a service client (by client id). */
export type RoleHolder = { userId: string } | { clientId: string };

const roleDetail = {
  permissions: { select: { scopeName: true, scope: { select: { api: { select: { identifier: true } } } } } },
  _count: { select: { users: true, clients: true } },
} as const;

type RoleWithDetail = Role & {
  permissions: Array<{ scopeName: string; scope: { api: { identifier: string } } }>;
  _count: { users: number; clients: number };
};

function toRow({ permissions, _count, ...role }: RoleWithDetail): RoleRow {
  return {
    ...role,
    permissions: permissions
      .map((permission) => ({ api: permission.scope.api.identifier, scope: permission.scopeName }))
      .sort((a, b) => a.api.localeCompare(b.api) || a.scope.localeCompare(b.scope)),
    users: _count.users,
    clients: _count.clients,
  };
}

/** The only module that reads or writes `roles`, `role_permissions`, `user_roles` and `client_roles`. */
type GrantRow = { name: string; apiId: string | null; scopeName: string | null };
const grantsThrough = (table: 'user_roles' | 'client_roles', match: string) =>
  `SELECT r.name, p.api_id::text AS "apiId", p.scope_name AS "scopeName"
   FROM ${table} h JOIN roles r ON r.id = h.role_id LEFT JOIN role_permissions p ON p.role_id = r.id
   WHERE ${match}`;
const GRANTS = {
  user: grantsThrough('user_roles', 'h.user_id = $1::uuid'),
  client: grantsThrough('client_roles', 'h.client_id = $1'),
};

export function roleRepository(db: PrismaClient, pool?: pg.Pool) {
  const hot = hotStatements(db, pool);
  return {
    findByName: async (name: string): Promise<RoleRow | null> => {
      const role = await db.role.findUnique({ where: { name }, include: roleDetail });
      return role ? toRow(role) : null;
    },
    findByNames: (names: string[]) => db.role.findMany({ where: { name: { in: names } } }),
    list: async (): Promise<RoleRow[]> =>
      (await db.role.findMany({ orderBy: { name: 'asc' }, include: roleDetail })).map(toRow),
    create: (role: { name: string; description: string; isDefault: boolean }) => db.role.create({ data: role }),
    update: (id: string, changes: { name?: string; description?: string; isDefault?: boolean }) =>
      db.role.update({ where: { id }, data: changes }),
    /** Removes the role; by cascade, its permissions and every holder's hold of it. */
    delete: async (id: string) => {
      await db.role.delete({ where: { id } });
    },
    grant: async (roleId: string, apiId: string, scopeNames: string[]) => {
      await db.rolePermission.createMany({
        data: scopeNames.map((scopeName) => ({ roleId, apiId, scopeName })),
        skipDuplicates: true,
      });
    },
    revoke: async (roleId: string, apiId: string, scopeNames: string[]) => {
      await db.rolePermission.deleteMany({ where: { roleId, apiId, scopeName: { in: scopeNames } } });
    },
    /** Gives roles to a holder (held ones are kept). */
    add: async (holder: RoleHolder, roleIds: string[]) => {
      if ('userId' in holder)
        await db.userRole.createMany({
          data: roleIds.map((roleId) => ({ userId: holder.userId, roleId })),
          skipDuplicates: true,
        });
      else
        await db.clientRole.createMany({
          data: roleIds.map((roleId) => ({ clientId: holder.clientId, roleId })),
          skipDuplicates: true,
        });
    },
    remove: async (holder: RoleHolder, roleIds: string[]) => {
      if ('userId' in holder)
        await db.userRole.deleteMany({ where: { userId: holder.userId, roleId: { in: roleIds } } });
      else await db.clientRole.deleteMany({ where: { clientId: holder.clientId, roleId: { in: roleIds } } });
    },
    /**
     * A holder's role names and every scope those roles grant, by API id: what a token for them may
     * carry. Read afresh for every token (never cached), so a role removed is gone from the next one.
     */
    grantsOf: async (holder: RoleHolder): Promise<{ roles: string[]; scopesByApi: Map<string, Set<string>> }> => {
      // SQL, on purpose: this runs for every token issued, and Prisma's nested select is two round
      // trips (the roles, then their permissions); one join answers it in one (see hotStatements).
      const rows =
        'userId' in holder
          ? isUuid(holder.userId) // account ids are UUIDs; anything else holds no role
            ? await hot.rows<GrantRow>('role-grants-user', GRANTS.user, [holder.userId])
            : []
          : await hot.rows<GrantRow>('role-grants-client', GRANTS.client, [holder.clientId]);
      const roles = new Set<string>();
      const scopesByApi = new Map<string, Set<string>>();
      for (const row of rows) {
        roles.add(row.name);
        if (row.apiId === null || row.scopeName === null) continue;
        const held = scopesByApi.get(row.apiId) ?? new Set<string>();
        held.add(row.scopeName);
        scopesByApi.set(row.apiId, held);
      }
      return { roles: [...roles].sort(), scopesByApi };
    },
  };
}

export type RoleRepository = ReturnType<typeof roleRepository>;
