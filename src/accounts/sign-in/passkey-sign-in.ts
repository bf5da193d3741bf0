import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { Passkeys } from '../passkeys.ts';
import type { SignInCore, SignInResult } from './sign-in.ts';

/** RFC 8176: proof of a held key (`hwk`) with the authenticator's user verification (`user`). */
export const PASSKEY_AMR = ['hwk', 'user'];

/**
 * Sign-in with a passkey alone: a discoverable credential with user verification is a complete,
 * multi-factor sign-in. It is not under the password lockout (a passkey cannot be guessed); failed
 * assertions are limited per address instead (see `passkeys`).
 */
export function passkeySignIn({ passkeys, core }: { passkeys: Passkeys; core: SignInCore }) {
  return {
    options: (signInId: string) => passkeys.signInOptions(signInId),

    async check(signInId: string, response: AuthenticationResponseJSON, ip: string): Promise<SignInResult> {
      const result = await passkeys.signIn(signInId, response, ip);
      if (result.outcome === 'retry-later') return result;
      if (result.outcome === 'refused') return { outcome: 'refused' };
      return core.completeInOneStep(result.userId, PASSKEY_AMR, 'passkey', ip);
    },
  };
}

export type PasskeySignIn = ReturnType<typeof passkeySignIn>;
