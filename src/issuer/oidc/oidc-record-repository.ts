import type pg from 'pg';
import type { PrismaClient } from '../../shared/database/generated/issuer/client.ts';
import { hotStatements } from '../../shared/database/hot-statements.ts';

export interface StoredRecord {
  payload: Record<string, unknown>;
  consumedAt: Date | null;
}

/**
 * The three statements every token request makes (a refresh: two finds, the consume, the
 * successor's save), as SQL (see hotStatements); the rest through Prisma.
 */
const RECORD = {
  upsert: `INSERT INTO oidc_records (kind, id_hash, grant_id, account_id, payload, expires_at)
    VALUES ($1, $2, $3, $4, $5::jsonb, $6)
    ON CONFLICT (kind, id_hash) DO UPDATE SET grant_id = EXCLUDED.grant_id, account_id = EXCLUDED.account_id,
      payload = EXCLUDED.payload, expires_at = EXCLUDED.expires_at`,
  find: 'SELECT payload, consumed_at FROM oidc_records WHERE kind = $1 AND id_hash = $2',
  consume: 'UPDATE oidc_records SET consumed_at = $3 WHERE kind = $1 AND id_hash = $2 AND consumed_at IS NULL',
};

/** oidc-provider's durable records in PostgreSQL. Ids arrive already hashed. */
export function oidcRecordRepository(db: PrismaClient, pool?: pg.Pool) {
  const hot = hotStatements(db, pool);
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
      await hot.changed('oidc-record-upsert', RECORD.upsert, [
        kind,
        idHash,
        grantId,
        accountId,
        JSON.stringify(payload),
        expiresAt,
      ]);
    },

    async find(kind: string, idHash: string): Promise<StoredRecord | undefined> {
      const [row] = await hot.rows<{ payload: Record<string, unknown> | string; consumed_at: Date | null }>(
        'oidc-record-find',
        RECORD.find,
        [kind, idHash],
      );
      if (!row) return undefined;
      // pg parses jsonb; a driver that hands back its text gets it parsed here.
      const payload =
        typeof row.payload === 'string' ? (JSON.parse(row.payload) as Record<string, unknown>) : row.payload;
      return { payload, consumedAt: row.consumed_at };
    },

    /** Marks the record used only if it was unused; false when another request got there first. */
    async consume(kind: string, idHash: string): Promise<boolean> {
      return (await hot.changed('oidc-record-consume', RECORD.consume, [kind, idHash, new Date()])) === 1;
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
