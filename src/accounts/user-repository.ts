import type { PrismaClient, Role, User } from '../shared/database/generated/issuer/client.ts';
import { normalizeEmail } from './email-address.ts';
import type { ProfileFields } from './profile.ts';

export type UserRow = User;

/**
 * The only module that reads or writes the `users` table and its child `recovery_codes` (an account
 * and its second factor are one aggregate: they change together, in one transaction).
 */
export function userRepository(db: PrismaClient) {
  return {
    findById: (id: string) => db.user.findUnique({ where: { id } }),
    findByEmail: (email: string) => db.user.findUnique({ where: { email: normalizeEmail(email) } }),
    list: () => db.user.findMany({ orderBy: { createdAt: 'asc' } }),
    create: (data: { email: string; passwordHash: string | null; role: Role; emailVerified: boolean }) =>
      db.user.create({ data: { ...data, email: normalizeEmail(data.email) } }),
    setDisabled: (id: string, disabledAt: Date | null) => db.user.update({ where: { id }, data: { disabledAt } }),
    /** Removes the account and, by cascade, its recovery codes. */
    delete: async (id: string) => {
      await db.user.delete({ where: { id } });
    },
    setEmailVerified: (id: string) => db.user.update({ where: { id }, data: { emailVerified: true } }),
    setPasswordHash: (id: string, passwordHash: string) => db.user.update({ where: { id }, data: { passwordHash } }),
    /** Saves the profile fields given (by claim name; null clears one) and stamps `updated_at`. */
    setProfile: (id: string, fields: Partial<ProfileFields>) =>
      db.user.update({
        where: { id },
        data: {
          ...(fields.name !== undefined ? { name: fields.name } : {}),
          ...(fields.given_name !== undefined ? { givenName: fields.given_name } : {}),
          ...(fields.family_name !== undefined ? { familyName: fields.family_name } : {}),
          ...(fields.preferred_username !== undefined ? { preferredUsername: fields.preferred_username } : {}),
          ...(fields.picture !== undefined ? { picture: fields.picture } : {}),
          ...(fields.locale !== undefined ? { locale: fields.locale } : {}),
          ...(fields.zoneinfo !== undefined ? { zoneinfo: fields.zoneinfo } : {}),
          profileUpdatedAt: new Date(),
        },
      }),

    totpState: (id: string) =>
      db.user.findUnique({ where: { id }, select: { totpSecretEncrypted: true, totpEnabledAt: true } }),
    /** A new secret, not yet active (enrollment is confirmed by a first correct code). */
    setPendingTotp: async (id: string, secretSealed: string) => {
      await db.user.update({
        where: { id },
        data: { totpSecretEncrypted: secretSealed, totpEnabledAt: null, totpLastStep: null },
      });
    },
    /** Turns TOTP on and replaces the recovery codes, together. */
    enableTotp: async (id: string, recoveryCodeHashes: string[]) => {
      await db.$transaction([
        db.user.update({ where: { id }, data: { totpEnabledAt: new Date() } }),
        ...replaceRecoveryCodes(db, id, recoveryCodeHashes),
      ]);
    },
    /** Claims a TOTP time step if no later or equal one was used: true only for the first claim. */
    claimTotpStep: async (id: string, step: bigint) => {
      const { count } = await db.user.updateMany({
        where: { id, OR: [{ totpLastStep: null }, { totpLastStep: { lt: step } }] },
        data: { totpLastStep: step },
      });
      return count === 1;
    },
    removeSecondFactor: async (id: string) => {
      await db.$transaction([
        db.recoveryCode.deleteMany({ where: { userId: id } }),
        db.user.update({ where: { id }, data: { totpSecretEncrypted: null, totpEnabledAt: null, totpLastStep: null } }),
      ]);
    },

    replaceRecoveryCodes: async (id: string, codeHashes: string[]) => {
      await db.$transaction(replaceRecoveryCodes(db, id, codeHashes));
    },
    /** Marks a recovery code used; true only for the first use of a code this user holds. */
    useRecoveryCode: async (id: string, codeHash: string) => {
      const { count } = await db.recoveryCode.updateMany({
        where: { userId: id, codeHash, usedAt: null },
        data: { usedAt: new Date() },
      });
      return count === 1;
    },
    recoveryCodesLeft: (id: string) => db.recoveryCode.count({ where: { userId: id, usedAt: null } }),
  };
}

function replaceRecoveryCodes(db: PrismaClient, userId: string, codeHashes: string[]) {
  return [
    db.recoveryCode.deleteMany({ where: { userId } }),
    db.recoveryCode.createMany({ data: codeHashes.map((codeHash) => ({ userId, codeHash })) }),
  ];
}

export type UserRepository = ReturnType<typeof userRepository>;
