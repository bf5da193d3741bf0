import type { Lockout } from '../lockout.ts';
import type { PasswordHasher } from '../passwords.ts';
import type { SecondFactor } from '../second-factor.ts';
import type { UserRepository, UserRow } from '../user-repository.ts';
import type { Requester, SignInCore, SignInResult } from './sign-in.ts';

export interface PasswordSignInOptions {
  users: UserRepository;
  passwords: PasswordHasher;
  lockout: Lockout;
  secondFactor: SecondFactor;
  core: SignInCore;
}

/**
 * The password as a first factor, and as proof of holding an account that is already signed in
 * (before a password change or turning two-step verification off). Every check is counted by the
 * lockout, so neither the sign-in form nor a session left open is a free guessing oracle.
 */
export function passwordSignIn({ users, passwords, lockout, secondFactor, core }: PasswordSignInOptions) {
  const holderAttempt = (user: UserRow, ip: string) => ({
    userId: user.id,
    email: user.email,
    ip,
    trustedDeviceId: undefined,
  });

  async function confirmPassword(user: UserRow, password: string, ip: string): Promise<boolean> {
    return lockout.check(holderAttempt(user, ip), () => passwords.verify(user.passwordHash, password));
  }

  return {
    /** `signInId` names the sign-in in progress (the interaction), where a pending second factor is kept. */
    async checkPassword(
      signInId: string,
      email: string,
      password: string,
      requester: Requester,
    ): Promise<SignInResult> {
      const user = await users.findByEmail(email);
      const trustedDeviceId = requester.trustedDevice(user?.id);
      const attempt = { userId: user?.id, email, ip: requester.ip, trustedDeviceId };
      const checked = await core.checkSecret(
        attempt,
        user,
        async () => {
          // Verified against a decoy hash when there is no user, so an unknown address costs the same time.
          const valid = await passwords.verify(user?.passwordHash, password);
          if (!user) return 'unknown_email';
          if (user.disabledAt) return 'disabled';
          return valid ? undefined : 'wrong_password';
        },
        { trustedDevice: trustedDeviceId !== undefined },
      );
      if (checked.outcome !== 'passed') return checked;
      // A hash made with weaker parameters than today's is upgraded now, while we hold the password.
      if (user!.passwordHash && passwords.needsRehash(user!.passwordHash))
        await users.setPasswordHash(user!.id, await passwords.hash(password));
      return core.afterFirstFactor(signInId, user!, 'pwd', requester.ip);
    },

    confirmPassword,

    /**
     * Proof that the person at the keyboard holds the account's secrets, not just its session: a
     * current authenticator code (six digits) or the password.
     */
    async confirmHolder(user: UserRow, proof: string, ip: string): Promise<boolean> {
      const trimmed = proof.trim();
      if (!/^\d{6}$/.test(trimmed)) return confirmPassword(user, proof, ip);
      return lockout.check({ ...holderAttempt(user, ip), step: 'second_factor' }, () =>
        secondFactor.verifyCode(user.id, trimmed),
      );
    },
  };
}

export type PasswordSignIn = ReturnType<typeof passwordSignIn>;
