import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '../../shared/database/generated/issuer/client.ts';
import type { Sealer } from '../../shared/crypto/sealing.ts';

/**
 * A random 256-bit secret the server makes for itself on first use and keeps sealed under the
 * key-encryption key, as the signing keys are (the row's name is the associated data). Every
 * instance reads the same one; the first to need it creates it, and a race between two creators is
 * settled by the primary key. Read once per process.
 */
export function serverSecret(db: PrismaClient, sealer: Sealer, name: string): () => Promise<Buffer> {
  let loaded: Promise<Buffer> | undefined;
  const load = async (): Promise<Buffer> => {
    const sealed = sealer.seal(randomBytes(32).toString('base64url'), name);
    await db.serverSecret.createMany({ data: [{ name, sealed }], skipDuplicates: true });
    const row = await db.serverSecret.findUniqueOrThrow({ where: { name } });
    return Buffer.from(sealer.open(row.sealed, name), 'base64url');
  };
  return () => {
    // A failed read (the database is down) is not remembered: the next use tries again.
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };
}
