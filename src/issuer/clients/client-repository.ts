import type { Client, Prisma, PrismaClient } from '../../shared/database/generated/issuer/client.ts';

export type ClientRow = Client;

export function clientRepository(db: PrismaClient) {
  return {
    find: (id: string) => db.client.findUnique({ where: { id } }),
    list: () => db.client.findMany({ orderBy: { createdAt: 'asc' } }),
    findByName: (name: string) => db.client.findMany({ where: { name } }),
    create: (data: Prisma.ClientCreateInput) => db.client.create({ data }),
    update: (id: string, data: Prisma.ClientUpdateInput) => db.client.update({ where: { id }, data }),
    updateSecretHash: (id: string, secretHash: string) => db.client.update({ where: { id }, data: { secretHash } }),
    async delete(id: string): Promise<boolean> {
      const { count } = await db.client.deleteMany({ where: { id } });
      return count === 1;
    },
  };
}

export type ClientRepository = ReturnType<typeof clientRepository>;
