import type { Api, ApiScope, PrismaClient } from '../../shared/database/generated/issuer/client.ts';

export type ApiRow = Api & { scopes: ApiScope[] };

const withScopes = { scopes: { orderBy: { createdAt: 'asc' as const } } };

/** The only module that reads or writes `apis` and `api_scopes`, and the clients' references to them. */
export function apiRepository(db: PrismaClient) {
  return {
    findByIdentifier: (identifier: string): Promise<ApiRow | null> =>
      db.api.findUnique({ where: { identifier }, include: withScopes }),
    findById: (id: string): Promise<ApiRow | null> => db.api.findUnique({ where: { id }, include: withScopes }),
    list: (): Promise<ApiRow[]> => db.api.findMany({ orderBy: { createdAt: 'asc' }, include: withScopes }),
    create: (api: {
      identifier: string;
      name: string;
      accessTokenTtlSeconds: number | null;
      roleLimited: boolean;
      dpopRequired: boolean;
      scopes: Array<{ name: string; description: string }>;
    }) =>
      db.api.create({
        data: {
          identifier: api.identifier,
          name: api.name,
          accessTokenTtlSeconds: api.accessTokenTtlSeconds,
          roleLimited: api.roleLimited,
          dpopRequired: api.dpopRequired,
          scopes: { create: api.scopes },
        },
        include: withScopes,
      }),
    update: (
      identifier: string,
      data: { name?: string; accessTokenTtlSeconds?: number | null; roleLimited?: boolean; dpopRequired?: boolean },
    ) => db.api.update({ where: { identifier }, data, include: withScopes }),
    addScope: async (apiId: string, scope: { name: string; description: string }) => {
      await db.apiScope.upsert({
        where: { apiId_name: { apiId, name: scope.name } },
        create: { apiId, ...scope },
        update: { description: scope.description },
      });
    },
    /**
     * Removes scopes (or the whole API) and every client's reference to them, in one transaction:
     * nothing is left pointing at a scope or an API that no longer exists.
     */
    async remove(api: ApiRow, scopeNames: string[] | 'all'): Promise<void> {
      const names = scopeNames === 'all' ? api.scopes.map((scope) => scope.name) : scopeNames;
      await db.$transaction(async (tx) => {
        const holders = await tx.client.findMany({ where: { resources: { has: api.identifier } } });
        for (const client of holders)
          await tx.client.update({
            where: { id: client.id },
            data: {
              scopes: client.scopes.filter((scope) => !names.includes(scope)),
              ...(scopeNames === 'all' ? { resources: client.resources.filter((r) => r !== api.identifier) } : {}),
              ...(scopeNames === 'all' && client.defaultResource === api.identifier ? { defaultResource: null } : {}),
            },
          });
        if (scopeNames === 'all') await tx.api.delete({ where: { id: api.id } });
        else await tx.apiScope.deleteMany({ where: { apiId: api.id, name: { in: names } } });
      });
    },
  };
}

export type ApiRepository = ReturnType<typeof apiRepository>;
