import { createHmac, hkdfSync, randomInt } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import type { KeyEncryption } from '../issuer/keys/key-encryption.ts';
import type { PrismaClient } from '../shared/database/generated/issuer/client.ts';

const PERIOD = 30;
const RECOVERY_CODE_COUNT = 10;
/** No vowels or look-alikes: a code read aloud or copied from paper stays unambiguous. */
const RECOVERY_ALPHABET = 'bcdfghjkmnpqrstvwxz23456789';

/**
 * TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one step of drift either way) and recovery codes. The
 * secret is sealed at rest; each time step is usable once (a replay inside its 30 s is refused);
 * recovery codes are single-use and stored as HMACs, so a copy of the table does not yield them.
 */
export function secondFactor(
  db: PrismaClient,
  encryption: KeyEncryption,
  keyEncryptionKey: Buffer,
  issuerName = 'Latchkey',
) {
  const pepper = Buffer.from(hkdfSync('sha256', keyEncryptionKey, Buffer.alloc(0), 'latchkey recovery codes', 32));
  const codeHash = (code: string) =>
    createHmac('sha256', pepper).update(code.replace(/[\s-]/g, '').toLowerCase()).digest('base64url');

  function newRecoveryCodes(): string[] {
    return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
      const raw = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
      return `${raw.slice(0, 5)}-${raw.slice(5)}`;
    });
  }

  async function replaceRecoveryCodes(userId: string): Promise<string[]> {
    const codes = newRecoveryCodes();
    await db.$transaction([
      db.recoveryCode.deleteMany({ where: { userId } }),
      db.recoveryCode.createMany({ data: codes.map((code) => ({ userId, codeHash: codeHash(code) })) }),
    ]);
    return codes;
  }

  return {
    /** Starts enrollment: a new secret (not yet active) and the otpauth URI for the QR code. */
    async beginEnrollment(userId: string, email: string): Promise<{ secret: string; uri: string }> {
      const secret = generateSecret();
      await db.user.update({
        where: { id: userId },
        data: {
          totpSecretEncrypted: encryption.seal(secret, `totp:${userId}`),
          totpEnabledAt: null,
          totpLastStep: null,
        },
      });
      return { secret, uri: generateURI({ issuer: issuerName, label: email, secret }) };
    },

    /** The enrollment begun but not yet confirmed, to show its QR code again after a wrong code. */
    async pendingEnrollment(userId: string, email: string): Promise<{ secret: string; uri: string } | undefined> {
      const user = await db.user.findUnique({
        where: { id: userId },
        select: { totpSecretEncrypted: true, totpEnabledAt: true },
      });
      if (!user?.totpSecretEncrypted || user.totpEnabledAt) return undefined;
      const secret = encryption.open(user.totpSecretEncrypted, `totp:${userId}`);
      return { secret, uri: generateURI({ issuer: issuerName, label: email, secret }) };
    },

    async recoveryCodesLeft(userId: string): Promise<number> {
      return db.recoveryCode.count({ where: { userId, usedAt: null } });
    },

    /** Turns TOTP on after one correct code; returns the ten recovery codes, shown once. */
    async confirmEnrollment(userId: string, code: string): Promise<string[] | undefined> {
      if (!(await this.verifyCode(userId, code, { pending: true }))) return undefined;
      await db.user.update({ where: { id: userId }, data: { totpEnabledAt: new Date() } });
      return replaceRecoveryCodes(userId);
    },

    /** Checks a 6-digit code and claims its time step atomically, so it cannot be used twice. */
    async verifyCode(userId: string, code: string, options: { pending?: boolean } = {}): Promise<boolean> {
      if (!/^\d{6}$/.test(code.trim())) return false;
      const user = await db.user.findUnique({
        where: { id: userId },
        select: { totpSecretEncrypted: true, totpEnabledAt: true },
      });
      if (!user?.totpSecretEncrypted || (!options.pending && !user.totpEnabledAt)) return false;
      const secret = encryption.open(user.totpSecretEncrypted, `totp:${userId}`);
      const now = Math.floor(Date.now() / 1000);
      const result = await verify({ secret, token: code.trim(), period: PERIOD, epochTolerance: PERIOD, epoch: now });
      if (!result.valid) return false;
      const step = BigInt(Math.floor(now / PERIOD) + result.delta);
      const { count } = await db.user.updateMany({
        where: { id: userId, OR: [{ totpLastStep: null }, { totpLastStep: { lt: step } }] },
        data: { totpLastStep: step },
      });
      return count === 1;
    },

    /** Uses a recovery code once; true only for the first use of a code this user holds. */
    async useRecoveryCode(userId: string, code: string): Promise<boolean> {
      const { count } = await db.recoveryCode.updateMany({
        where: { userId, codeHash: codeHash(code), usedAt: null },
        data: { usedAt: new Date() },
      });
      return count === 1;
    },

    /** New recovery codes; the old ones stop working. */
    regenerateRecoveryCodes: replaceRecoveryCodes,

    async disable(userId: string): Promise<void> {
      await db.$transaction([
        db.recoveryCode.deleteMany({ where: { userId } }),
        db.user.update({
          where: { id: userId },
          data: { totpSecretEncrypted: null, totpEnabledAt: null, totpLastStep: null },
        }),
      ]);
    },

    async isEnabled(userId: string): Promise<boolean> {
      return (
        (await db.user.findUnique({ where: { id: userId }, select: { totpEnabledAt: true } }))?.totpEnabledAt != null
      );
    },
  };
}

export type SecondFactor = ReturnType<typeof secondFactor>;
