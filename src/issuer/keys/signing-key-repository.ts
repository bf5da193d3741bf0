import type { PrismaClient, SigningKey } from '../../shared/database/generated/issuer/client.ts';

export type SigningKeyRow = SigningKey;
export type NewSigningKey = Pick<SigningKey, 'kid' | 'purpose' | 'alg' | 'privateKeyEncrypted' | 'activatesAt'> & {
  publicJwk: object | null;
};

/** One process-wide lock key for key creation and rotation, so instances never rotate twice. */
const ROTATION_LOCK = 7_146_233_001;

export function signingKeyRepository(db: PrismaClient) {
  return {
    /** Every key still published or still needed (not yet removed). */
    listLive(now: Date): Promise<SigningKeyRow[]> {
      return db.signingKey.findMany({
        where: { OR: [{ removesAt: null }, { removesAt: { gt: now } }] },
        orderBy: { activatesAt: 'desc' },
      });
    },

    listAll(): Promise<SigningKeyRow[]> {
      return db.signingKey.findMany({ orderBy: { createdAt: 'desc' } });
    },

    /** A fingerprint that changes whenever any key is added, retired or removed. */
    async version(): Promise<string> {
      const rows = await db.$queryRawUnsafe<Array<{ n: number; latest: Date | null }>>(
        'SELECT count(*)::int AS n, max(greatest(created_at, coalesce(retires_at, created_at), coalesce(removes_at, created_at))) AS latest FROM signing_keys',
      );
      const row = rows[0];
      return `${row?.n ?? 0}:${row?.latest?.toISOString() ?? ''}`;
    },

    /**
     * Runs `change` inside a transaction holding the rotation lock; `change` sees the keys as they
     * are once the lock is held, so two instances deciding to rotate at once rotate once.
     */
    withRotationLock<T>(
      change: (tx: {
        live(now: Date): Promise<SigningKeyRow[]>;
        insert(key: NewSigningKey): Promise<void>;
        retire(kid: string, retiresAt: Date, removesAt: Date): Promise<void>;
      }) => Promise<T>,
    ): Promise<T> {
      return db.$transaction(
        async (tx) => {
          await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${ROTATION_LOCK})`);
          return change({
            live: (now) =>
              tx.signingKey.findMany({
                where: { OR: [{ removesAt: null }, { removesAt: { gt: now } }] },
                orderBy: { activatesAt: 'desc' },
              }),
            insert: async (key) => {
              await tx.signingKey.create({ data: { ...key, publicJwk: key.publicJwk ?? undefined } });
            },
            retire: async (kid, retiresAt, removesAt) => {
              await tx.signingKey.update({ where: { kid }, data: { retiresAt, removesAt } });
            },
          });
        },
        { timeout: 30_000 },
      );
    },
  };
}

export type SigningKeyRepository = ReturnType<typeof signingKeyRepository>;
