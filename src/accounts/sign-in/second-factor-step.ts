import type { SecondFactor } from '../second-factor.ts';
import type { SecurityEvents } from '../security-events.ts';
import type { UserRepository } from '../user-repository.ts';
import type { Requester, SignInCore, SignInResult } from './sign-in.ts';

export interface SecondFactorStepOptions {
  users: UserRepository;
  secondFactor: SecondFactor;
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
 * The second step of a sign-in whose first factor passed: an authenticator code or a recovery
 * code, counted by the lockout on its own (never charged for the password's typos).
 */
export function secondFactorStep({ users, secondFactor, events, core }: SecondFactorStepOptions) {
  return {
    isPending: async (signInId: string): Promise<boolean> => (await core.pendingSecondFactor(signInId)) !== undefined,

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
