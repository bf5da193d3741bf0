import type { PrismaClient } from '../../shared/database/generated/issuer/client.ts';
import { Prisma } from '../../shared/database/generated/issuer/client.ts';

export interface StoredRecord {
  payload: Record<string, unknown>;
  consumedAt: Date | null;
}

/** oidc-provider's durable records in PostgreSQL. Ids arrive already hashed. */
export function oidcRecordRepository(db: PrismaClient) {
  return {
    async upsert(
      kind: string,
      idHash: string,
      payload: Record<string, unknown>,
      expiresAt: Date | null,
    ): Promise<void> {
      const grantId =
        typeof payload.grantId === 'string' ? payload.grantId : kind === 'Grant' ? (payload.jti as string) : null;
      const accountId = typeof payload.accountId === 'string' ? payload.accountId : null;
      const data = { payload: payload as Prisma.InputJsonObject, expiresAt, grantId, accountId };
      await db.oidcRecord.upsert({
        where: { kind_idHash: { kind, idHash } },
        create: { kind, idHash, ...data },
        update: data,
      });
    },

    async find(kind: string, idHash: string): Promise<StoredRecord | undefined> {
      const row = await db.oidcRecord.findUnique({
        where: { kind_idHash: { kind, idHash } },
        select: { payload: true, consumedAt: true },
      });
      return row ? { payload: row.payload as Record<string, unknown>, consumedAt: row.consumedAt } : undefined;
    },

    /** Marks the record used only if it was unused; false when another request got there first. */
    async consume(kind: string, idHash: string): Promise<boolean> {
      const { count } = await db.oidcRecord.updateMany({
        where: { kind, idHash, consumedAt: null },
        data: { consumedAt: new Date() },
      });
      return count === 1;
    },

    async destroy(kind: string, idHash: string): Promise<void> {
      await db.oidcRecord.deleteMany({ where: { kind, idHash } });
    },

    async revokeByGrantId(kind: string, grantId: string): Promise<void> {
      await db.oidcRecord.deleteMany({ where: { kind, grantId } });
    },

    /** Ends everything an account holds: used when a user is disabled or resets the password. */
    async revokeByAccountId(accountId: string): Promise<string[]> {
      const grants = await db.oidcRecord.findMany({ where: { accountId, kind: 'Grant' }, select: { grantId: true } });
      await db.oidcRecord.deleteMany({ where: { accountId } });
      return grants.map((grant) => grant.grantId).filter((id): id is string => id !== null);
    },

    /** The live grants an account has given (the "apps with access" of its account page). */
    async grantsOf(accountId: string): Promise<Array<Record<string, unknown>>> {
      const rows = await db.oidcRecord.findMany({
        where: { accountId, kind: 'Grant', OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] },
        select: { payload: true },
        orderBy: { createdAt: 'asc' },
      });
      return rows.map((row) => row.payload as Record<string, unknown>);
    },

    /**
     * Deletes records that expired before `before`, `batchSize` rows per statement and at most
     * `maxBatches` statements, pausing between them: with millions expiring at once, one DELETE would
     * hold locks and write WAL for minutes and slow every token request meanwhile; what is left goes
     * at the next sweep. Raw SQL because Prisma's deleteMany has no LIMIT.
     */
    async deleteExpired(
      before: Date,
      {
        batchSize = 5_000,
        maxBatches = 200,
        pauseMs = 50,
      }: { batchSize?: number; maxBatches?: number; pauseMs?: number } = {},
    ): Promise<number> {
      let deleted = 0;
      for (let batch = 0; batch < maxBatches; batch += 1) {
        const count = await db.$executeRaw`
          DELETE FROM oidc_records r
          USING (SELECT kind, id_hash FROM oidc_records WHERE expires_at < ${before} LIMIT ${batchSize}) e
          WHERE r.kind = e.kind AND r.id_hash = e.id_hash`;
        deleted += count;
        if (count < batchSize) break;
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
      return deleted;
    },
  };
}

export type OidcRecordRepository = ReturnType<typeof oidcRecordRepository>;
