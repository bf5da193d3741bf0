import { createHmac, randomInt } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import type { Sealer } from '../shared/crypto/sealing.ts';
import type { UserRepository } from './user-repository.ts';

/** The purpose the recovery-code HMAC key is derived for (changing it voids every stored code). */
export const RECOVERY_CODE_KEY_PURPOSE = 'latchkey recovery codes';
const PERIOD = 30;
const RECOVERY_CODE_COUNT = 10;
/** No vowels or look-alikes: a code read aloud or copied from paper stays unambiguous. */
const RECOVERY_ALPHABET = 'bcdfghjkmnpqrstvwxz23456789';

export interface SecondFactorOptions {
  users: UserRepository;
  /** Seals TOTP secrets at rest, bound to their user. */
  sealer: Sealer;
  /** The HMAC key recovery codes are stored under. */
  recoveryCodeKey: Buffer;
  issuerName?: string;
}

/**
 * TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one step of drift either way) and recovery codes. The
 * secret is sealed at rest; each time step is usable once (a replay inside its 30 s is refused);
 * recovery codes are single-use and stored as HMACs, so a copy of the table does not yield them.
 */
export function secondFactor({ users, sealer, recoveryCodeKey, issuerName = 'Latchkey' }: SecondFactorOptions) {
  const codeHash = (code: string) =>
    createHmac('sha256', recoveryCodeKey).update(code.replace(/[\s-]/g, '').toLowerCase()).digest('base64url');
  const sealed = (userId: string) => `totp:${userId}`;
  const enrollment = (email: string, secret: string) => ({
    secret,
    uri: generateURI({ issuer: issuerName, label: email, secret }),
  });

  function newRecoveryCodes(): string[] {
    return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
      const raw = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
      return `${raw.slice(0, 5)}-${raw.slice(5)}`;
    });
  }

  /** Checks a 6-digit code and claims its time step atomically, so it cannot be used twice. */
  async function verifyCode(userId: string, code: string, options: { pending?: boolean } = {}): Promise<boolean> {
    if (!/^\d{6}$/.test(code.trim())) return false;
    const state = await users.totpState(userId);
    if (!state?.totpSecretEncrypted || (!options.pending && !state.totpEnabledAt)) return false;
    const secret = sealer.open(state.totpSecretEncrypted, sealed(userId));
    const now = Math.floor(Date.now() / 1000);
    const result = await verify({ secret, token: code.trim(), period: PERIOD, epochTolerance: PERIOD, epoch: now });
    if (!result.valid) return false;
    return users.claimTotpStep(userId, BigInt(Math.floor(now / PERIOD) + result.delta));
  }

  return {
    /** Starts enrollment: a new secret (not yet active) and the otpauth URI for the QR code. */
    async beginEnrollment(userId: string, email: string): Promise<{ secret: string; uri: string }> {
      const secret = generateSecret();
      await users.setPendingTotp(userId, sealer.seal(secret, sealed(userId)));
      return enrollment(email, secret);
    },

    /** The enrollment begun but not yet confirmed, to show its QR code again after a wrong code. */
    async pendingEnrollment(userId: string, email: string): Promise<{ secret: string; uri: string } | undefined> {
      const state = await users.totpState(userId);
      if (!state?.totpSecretEncrypted || state.totpEnabledAt) return undefined;
      return enrollment(email, sealer.open(state.totpSecretEncrypted, sealed(userId)));
    },

    recoveryCodesLeft: (userId: string): Promise<number> => users.recoveryCodesLeft(userId),

    /** Turns TOTP on after one correct code; returns the ten recovery codes, shown once. */
    async confirmEnrollment(userId: string, code: string): Promise<string[] | undefined> {
      if (!(await verifyCode(userId, code, { pending: true }))) return undefined;
      const codes = newRecoveryCodes();
      await users.enableTotp(userId, codes.map(codeHash));
      return codes;
    },

    verifyCode,

    /** Uses a recovery code once; true only for the first use of a code this user holds. */
    useRecoveryCode: (userId: string, code: string): Promise<boolean> => users.useRecoveryCode(userId, codeHash(code)),

    /** New recovery codes; the old ones stop working. */
    async regenerateRecoveryCodes(userId: string): Promise<string[]> {
      const codes = newRecoveryCodes();
      await users.replaceRecoveryCodes(userId, codes.map(codeHash));
      return codes;
    },

    disable: (userId: string): Promise<void> => users.removeSecondFactor(userId),

    async isEnabled(userId: string): Promise<boolean> {
      return (await users.totpState(userId))?.totpEnabledAt != null;
    },
  };
}

export type SecondFactor = ReturnType<typeof secondFactor>;
