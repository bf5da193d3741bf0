import type pg from 'pg';
import type { PrismaClient, User } from '../shared/database/generated/issuer/client.ts';
import { hotStatements } from '../shared/database/hot-statements.ts';
import { after, type PageCursor } from '../shared/database/page-cursor.ts';
import { isUuid } from '../shared/database/uuid.ts';
import { normalizeEmail } from './email-address.ts';
import type { ProfileFields } from './profile.ts';

export type UserRow = User;

const ROLE_NAMES = 'SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1::uuid';

const roleNamesOnly = { roles: { select: { role: { select: { name: true } } } } } as const;
function withRoleNames({ roles, ...user }: User & { roles: Array<{ role: { name: string } }> }) {
  return { ...user, roleNames: roles.map((held) => held.role.name).sort() };
}

/**
 * The only module that reads or writes the `users` table and its child `recovery_codes` (an account
 * and its second factor are one aggregate: they change together, in one transaction).
 */
export function userRepository(db: PrismaClient, pool?: pg.Pool) {
  const hot = hotStatements(db, pool);
  return {
    findById: (id: string) => db.user.findUnique({ where: { id } }),
    findByEmail: (email: string) => db.user.findUnique({ where: { email: normalizeEmail(email) } }),
    /**
     * A page of accounts, newest first, whose address or name contains `q` (any case); one row more
     * than `limit` when there is a next page.
     */
    search: async ({
      q,
      role,
      limit,
      cursor,
    }: {
      q?: string | undefined;
      /** Only the holders of this role. */
      role?: string | undefined;
      limit: number;
      cursor?: PageCursor | undefined;
    }) => {
      const contains = q ? { contains: q, mode: 'insensitive' as const } : undefined;
      const matches = contains
        ? { OR: [{ email: contains }, { name: contains }, { preferredUsername: contains }] }
        : {};
      const rows = await db.user.findMany({
        where: { AND: [matches, role ? { roles: { some: { role: { name: role } } } } : {}, after(cursor)] },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
        include: roleNamesOnly,
      });
      return rows.map(withRoleNames);
    },
    list: async () =>
      (await db.user.findMany({ orderBy: { createdAt: 'asc' }, include: roleNamesOnly })).map(withRoleNames),
    /** A new account with the roles named, or (none named) the default roles; an unknown name is an error. */
    create: async ({
      roles,
      ...data
    }: {
      email: string;
      passwordHash: string | null;
      emailVerified: boolean;
      roles?: string[];
    }) => {
      const held = await db.role.findMany({ where: roles ? { name: { in: roles } } : { isDefault: true } });
      const unknown = (roles ?? []).filter((name) => !held.some((role) => role.name === name));
      if (unknown.length) throw new Error(`no role ${unknown.join(', ')}`);
      return db.user.create({
        data: {
          ...data,
          email: normalizeEmail(data.email),
          roles: { create: held.map((role) => ({ roleId: role.id })) },
        },
      });
    },
    /**
     * The account with the names of its roles (what tokens carry as `roles`). Every token reads its
     * subject afresh (a disabled account or a role taken away counts at once):
     * the account and its role names in parallel, the names in one join (see hotStatements), where
     * Prisma's include made three statements one after another.
     */
    findWithRoles: async (id: string) => {
      if (!isUuid(id)) return null;
      const [user, roles] = await Promise.all([
        db.user.findUnique({ where: { id } }),
        hot.rows<{ name: string }>('user-role-names', ROLE_NAMES, [id]),
      ]);
      return user ? { ...user, roleNames: roles.map((role) => role.name).sort() } : null;
    },
    setDisabled: (id: string, disabledAt: Date | null) => db.user.update({ where: { id }, data: { disabledAt } }),
    /** Removes the account and, by cascade, its recovery codes. */
    delete: async (id: string) => {
      await db.user.delete({ where: { id } });
    },
    /** Marks the account as offered a passkey at sign-in; true only the first time (the offer is made once). */
    claimPasskeyOffer: async (id: string) => {
      const { count } = await db.user.updateMany({
        where: { id, passkeyOfferedAt: null },
        data: { passkeyOfferedAt: new Date() },
      });
      return count === 1;
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
