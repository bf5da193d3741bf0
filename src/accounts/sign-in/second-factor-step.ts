import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { Passkeys } from '../passkeys.ts';
import type { SecondFactor } from '../second-factor.ts';
import type { SecurityEvents } from '../security-events.ts';
import type { UserRepository } from '../user-repository.ts';
import type { Requester, SignInCore, SignInResult } from './sign-in.ts';

export interface SecondFactorStepOptions {
  users: UserRepository;
  secondFactor: SecondFactor;
  passkeys: Pick<Passkeys, 'has' | 'secondFactorOptions' | 'secondFactor'>;
  events: SecurityEvents;
  core: SignInCore;
}

export interface SecondFactorProof {
  /** A six-digit authenticator code... */
  code?: string;
  /** ...or one of the recovery codes, which wins when both are given. */
  recoveryCode?: string;
}

/**
 * The second step of a sign-in whose first factor passed: the account's passkey, or an
 * authenticator code or a recovery code, counted by the lockout on its own (never charged for the
 * password's typos).
 */
export function secondFactorStep({ users, secondFactor, passkeys, events, core }: SecondFactorStepOptions) {
  return {
    isPending: async (signInId: string): Promise<boolean> => (await core.pendingSecondFactor(signInId)) !== undefined,

    /** Which second factors the pending account has, for the page to offer (the passkey first). */
    async methods(signInId: string): Promise<{ totp: boolean; passkey: boolean }> {
      const pending = await core.pendingSecondFactor(signInId);
      const user = pending ? await users.findById(pending.userId) : null;
      if (!pending || !user) return { totp: true, passkey: false };
      return { totp: user.totpEnabledAt !== null, passkey: await passkeys.has(user.id) };
    },

    /** The challenge for the account's passkey; undefined when no first factor is waiting. */
    async passkeyOptions(signInId: string) {
      const pending = await core.pendingSecondFactor(signInId);
      return pending ? passkeys.secondFactorOptions(signInId, pending.userId) : undefined;
    },

    /** The passkey as the second factor: `amr` ["pwd", "hwk"] (or the first factor's, then "hwk"). */
    async checkPasskey(
      signInId: string,
      response: AuthenticationResponseJSON,
      requester: Requester,
    ): Promise<SignInResult | { outcome: 'expired' }> {
      const pending = await core.pendingSecondFactor(signInId);
      if (!pending) return { outcome: 'expired' };
      const result = await passkeys.secondFactor(signInId, pending.userId, response, requester.ip);
      if (result.outcome !== 'signed-in') return result.outcome === 'refused' ? { outcome: 'refused' } : result;
      return core.completeSecondFactor(signInId, pending, 'hwk', requester.ip);
    },

    /** `expired` when no first factor is waiting in this sign-in (it timed out, or was never passed). */
    async check(
      signInId: string,
      proof: SecondFactorProof,
      requester: Requester,
    ): Promise<SignInResult | { outcome: 'expired' }> {
      const pending = await core.pendingSecondFactor(signInId);
      if (!pending) return { outcome: 'expired' };
      const { userId } = pending;
      const user = await users.findById(userId);
      const attempt = {
        userId,
        email: user?.email ?? '',
        ip: requester.ip,
        trustedDeviceId: requester.trustedDevice(userId),
        step: 'second_factor' as const,
      };
      const recoveryCode = proof.recoveryCode?.trim();
      const checked = await core.checkSecret(attempt, user, async () => {
        const accepted = recoveryCode
          ? await secondFactor.useRecoveryCode(userId, recoveryCode)
          : await secondFactor.verifyCode(userId, proof.code ?? '');
        return accepted && user && !user.disabledAt ? undefined : `wrong_${recoveryCode ? 'recovery_code' : 'totp'}`;
      });
      if (checked.outcome !== 'passed') return checked;
      if (recoveryCode) await events.record({ type: 'recovery_code.used', userId, actor: userId, ip: requester.ip });
      return core.completeSecondFactor(signInId, pending, recoveryCode ? 'mfa' : 'otp', requester.ip);
    },
  };
}

export type SecondFactorStep = ReturnType<typeof secondFactorStep>;
