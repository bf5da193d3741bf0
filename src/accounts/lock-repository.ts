import type { PrismaClient } from '../shared/database/generated/issuer/client.ts';

/** Where sign-in locks are kept durably; the lockout reads it only when the cache has no lock. */
export interface LockStore {
  save(scope: string, lockedUntil: Date): Promise<void>;
  /** The end of the scope's lock, when it is locked now. */
  lockedUntil(scope: string): Promise<Date | undefined>;
  clear(scopes: string[]): Promise<void>;
}

export function lockRepository(db: PrismaClient): LockStore & { deleteExpired(before: Date): Promise<number> } {
  return {
    async save(scope, lockedUntil) {
      await db.accountLock.upsert({ where: { scope }, create: { scope, lockedUntil }, update: { lockedUntil } });
    },
    async lockedUntil(scope) {
      const lock = await db.accountLock.findUnique({ where: { scope }, select: { lockedUntil: true } });
      return lock && lock.lockedUntil.getTime() > Date.now() ? lock.lockedUntil : undefined;
    },
    async clear(scopes) {
      await db.accountLock.deleteMany({ where: { scope: { in: scopes } } });
    },
    deleteExpired: async (before) =>
      (await db.accountLock.deleteMany({ where: { lockedUntil: { lt: before } } })).count,
  };
}
