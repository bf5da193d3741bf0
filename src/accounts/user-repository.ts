import type { PrismaClient, Role, User } from '../shared/database/generated/issuer/client.ts';

export type UserRow = User;

export function userRepository(db: PrismaClient) {
  return {
    findById: (id: string) => db.user.findUnique({ where: { id } }),
    findByEmail: (email: string) => db.user.findUnique({ where: { email: email.trim().toLowerCase() } }),
    list: () => db.user.findMany({ orderBy: { createdAt: 'asc' } }),
    create: (data: { email: string; passwordHash: string | null; role: Role; emailVerified: boolean }) =>
      db.user.create({ data: { ...data, email: data.email.trim().toLowerCase() } }),
    setDisabled: (id: string, disabledAt: Date | null) => db.user.update({ where: { id }, data: { disabledAt } }),
    setEmailVerified: (id: string) => db.user.update({ where: { id }, data: { emailVerified: true } }),
    setPasswordHash: (id: string, passwordHash: string) => db.user.update({ where: { id }, data: { passwordHash } }),
  };
}

export type UserRepository = ReturnType<typeof userRepository>;
