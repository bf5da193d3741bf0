import type { PrismaClient } from '../shared/database/generated/issuer/client.ts';

export interface NewPasskey {
  userId: string;
  credentialId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  aaguid: string;
  deviceType: string;
  backedUp: boolean;
  userVerified: boolean;
  name: string;
  rpId: string;
}

/** The only module on the `passkeys` table. */
export function passkeyRepository(db: PrismaClient) {
  return {
    create: (passkey: NewPasskey) =>
      db.passkey.create({ data: { ...passkey, publicKey: Buffer.from(passkey.publicKey), counter: passkey.counter } }),

    findByCredentialId: (credentialId: string) => db.passkey.findUnique({ where: { credentialId } }),

    countFor: (userId: string) => db.passkey.count({ where: { userId } }),

    listFor: (userId: string) => db.passkey.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } }),

    /** Records a use: the new counter and the time, only if the counter has not moved meanwhile (a replay racing the original). */
    recordUse: async (id: string, previousCounter: bigint, counter: number): Promise<boolean> =>
      (
        await db.passkey.updateMany({
          where: { id, counter: previousCounter },
          data: { counter: BigInt(counter), lastUsedAt: new Date() },
        })
      ).count === 1,

    rename: async (userId: string, id: string, name: string): Promise<boolean> =>
      (await db.passkey.updateMany({ where: { id, userId }, data: { name } })).count === 1,

    remove: async (userId: string, id: string): Promise<boolean> =>
      (await db.passkey.deleteMany({ where: { id, userId } })).count === 1,
  };
}

export type PasskeyRepository = ReturnType<typeof passkeyRepository>;
export type PasskeyRow = Awaited<ReturnType<PasskeyRepository['listFor']>>[number];
