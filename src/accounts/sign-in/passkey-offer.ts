import type { PublicKeyCredentialCreationOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Cache } from '../../shared/cache/cache.ts';
import type { Mailer } from '../mail/mailer.ts';
import { securityChange } from '../mail/messages.ts';
import type { Passkeys } from '../passkeys.ts';
import type { UserRepository, UserRow } from '../user-repository.ts';
import type { CompletedSignIn } from './sign-in.ts';

/** How long a finished sign-in waits for the person to answer the offer. */
const HELD_SECONDS = 600;

/** The name a passkey made from the offer gets; it can be renamed at /account. */
const OFFERED_PASSKEY_NAME = 'Passkey made at sign-in';

/**
 * "Sign in faster next time": after a password sign-in, on a browser that can make a passkey on
 * its own device, an account without a passkey is offered one, once in its life (as Auth0's
 * progressive enrollment does). The finished sign-in is held, bound to this sign-in, until the
 * person makes the passkey or says "Not now"; either way they continue to the application.
 */
export function passkeyOffer(options: {
  cache: Cache;
  users: Pick<UserRepository, 'claimPasskeyOffer'> & { findById(id: string): Promise<UserRow | null> };
  passkeys: Pick<Passkeys, 'has' | 'registrationOptions' | 'register'>;
  mailer: Mailer;
  issuerUrl: string;
}) {
  const { cache, users, passkeys, mailer, issuerUrl } = options;
  const heldKey = (signInId: string) => `passkey-offer:${signInId}`;

  async function held(signInId: string): Promise<CompletedSignIn | undefined> {
    const stored = await cache.get(heldKey(signInId));
    return stored ? (JSON.parse(stored) as CompletedSignIn) : undefined;
  }

  async function take(signInId: string): Promise<CompletedSignIn | undefined> {
    const stored = await cache.take(heldKey(signInId));
    return stored ? (JSON.parse(stored) as CompletedSignIn) : undefined;
  }

  return {
    /**
     * Whether to offer now: a password was used, the browser said it can make a passkey here, and
     * the account has none and was never offered one. When it says yes, the account is marked
     * offered (so an abandoned offer is not repeated) and the sign-in is held until the answer.
     */
    async hold(signInId: string, signIn: CompletedSignIn, browserCanMakeOne: boolean): Promise<boolean> {
      if (!browserCanMakeOne || !signIn.amr.includes('pwd')) return false;
      if (await passkeys.has(signIn.accountId)) return false;
      if (!(await users.claimPasskeyOffer(signIn.accountId))) return false;
      await cache.set(heldKey(signInId), JSON.stringify(signIn), HELD_SECONDS);
      return true;
    },

    isHeld: async (signInId: string) => (await held(signInId)) !== undefined,

    /** The challenge for the passkey, for the account whose sign-in is held; undefined when none is. */
    async creationOptions(signInId: string): Promise<PublicKeyCredentialCreationOptionsJSON | undefined> {
      const signIn = await held(signInId);
      const user = signIn && (await users.findById(signIn.accountId));
      return user ? passkeys.registrationOptions(user) : undefined;
    },

    /**
     * Stores the passkey (the owner is mailed, as for one added at /account) and releases the
     * sign-in. `added` false: the answer did not check out and the offer stands; `expired`: nothing
     * is held any more.
     */
    async accept(
      signInId: string,
      response: RegistrationResponseJSON,
      ip: string,
    ): Promise<{ outcome: 'added'; signIn: CompletedSignIn } | { outcome: 'not-added' | 'expired' }> {
      const signIn = await held(signInId);
      const user = signIn && (await users.findById(signIn.accountId));
      if (!user) return { outcome: 'expired' };
      if (!(await passkeys.register(user, response, OFFERED_PASSKEY_NAME, ip))) return { outcome: 'not-added' };
      mailer.send({ to: user.email, ...securityChange('passkey_added', issuerUrl) });
      const released = await take(signInId);
      return released ? { outcome: 'added', signIn: released } : { outcome: 'expired' };
    },

    /** "Not now": the sign-in continues without a passkey. */
    decline: (signInId: string) => take(signInId),
  };
}

export type PasskeyOffer = ReturnType<typeof passkeyOffer>;
