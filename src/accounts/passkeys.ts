import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Cache } from '../shared/cache/cache.ts';
import type { PasskeyRepository, PasskeyRow } from './passkey-repository.ts';
import type { SecurityEvents } from './security-events.ts';
import type { UserRepository, UserRow } from './user-repository.ts';

/** The relying party passkeys are bound to: an id (a host) and the origins a ceremony may run on. */
export interface RelyingParty {
  id: string;
  name: string;
  origins: string[];
}

const CHALLENGE_SECONDS = 300;
/** Failed passkey sign-ins allowed per address in the window; a passkey cannot be guessed, but a flood is still refused. */
export const PASSKEY_FAILURE_LIMIT = { perIp: 30, windowSeconds: 15 * 60 };
const NAME_MAX = 60;

export type PasskeySignIn =
  | { outcome: 'signed-in'; userId: string }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'retry-later'; retryAfterSeconds: number };

/**
 * Passkeys (WebAuthn) with @simplewebauthn/server. A challenge is made per ceremony, kept in the
 * cache for five minutes and used once (`take`): a replayed response finds no challenge. One
 * credential serves two uses, decided per sign-in; this module's `signIn` is the passwordless one,
 * which requires user verification and a discoverable credential (no account is named first).
 */
export function passkeys(options: {
  repository: PasskeyRepository;
  cache: Cache;
  events: SecurityEvents;
  users: Pick<UserRepository, 'findById'>;
  relyingParty: RelyingParty;
}) {
  const { repository, cache, events, users, relyingParty } = options;
  const challengeKey = (purpose: 'register' | 'sign-in' | 'second-factor', key: string) => `webauthn:${purpose}:${key}`;
  const expected = { expectedOrigin: relyingParty.origins, expectedRPID: relyingParty.id };

  return {
    list: (userId: string) => repository.listFor(userId),

    /** Options for creating a passkey for `user`; its existing ones are excluded (no duplicate on one authenticator). */
    async registrationOptions(user: UserRow): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await repository.listFor(user.id);
      const creation = await generateRegistrationOptions({
        rpName: relyingParty.name,
        rpID: relyingParty.id,
        userName: user.email,
        userID: new TextEncoder().encode(user.id),
        attestationType: 'none',
        excludeCredentials: existing.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports })),
        // Discoverable where the authenticator can be (then it signs in without an address), and
        // verification preferred: a security key that can do neither still registers, as a second
        // factor only (a passwordless sign-in needs both).
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
      await cache.set(challengeKey('register', user.id), creation.challenge, CHALLENGE_SECONDS);
      return creation;
    },

    /** Verifies and stores a new passkey; undefined when the response does not check out. */
    async register(user: UserRow, response: RegistrationResponseJSON, name: string, ip: string) {
      const challenge = await cache.take(challengeKey('register', user.id));
      if (!challenge) return undefined;
      const verification = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        ...expected,
        requireUserVerification: false,
      }).catch(() => undefined);
      if (!verification?.verified) return undefined;
      const { credential, aaguid, credentialDeviceType, credentialBackedUp, userVerified } =
        verification.registrationInfo;
      const passkey = await repository.create({
        userId: user.id,
        credentialId: credential.id,
        publicKey: credential.publicKey,
        counter: credential.counter,
        transports: credential.transports ?? [],
        aaguid,
        deviceType: credentialDeviceType,
        backedUp: credentialBackedUp,
        userVerified,
        name: passkeyName(name),
        rpId: relyingParty.id,
      });
      await events.record({
        type: 'passkey.registered',
        userId: user.id,
        actor: user.id,
        ip,
        detail: { passkeyId: passkey.id, deviceType: credentialDeviceType, backedUp: credentialBackedUp },
      });
      return passkey;
    },

    /** Renames one of `user`'s passkeys. */
    async rename(user: UserRow, id: string, name: string, ip: string): Promise<boolean> {
      const renamed = await repository.rename(user.id, id, passkeyName(name));
      if (renamed)
        await events.record({
          type: 'passkey.renamed',
          userId: user.id,
          actor: user.id,
          ip,
          detail: { passkeyId: id },
        });
      return renamed;
    },

    /** An administrator's removal: any of the account's passkeys (an account with no password then signs in by reset). */
    async removeAny(userId: string, id: string, actor: string, ip: string): Promise<boolean> {
      if (!(await repository.remove(userId, id))) return false;
      await events.record({ type: 'passkey.removed', userId, actor, ip, detail: { passkeyId: id, by: 'admin' } });
      return true;
    },

    /** Removes one of `user`'s passkeys, unless it is their last way to sign in (no password). */
    async remove(user: UserRow, id: string, ip: string): Promise<'removed' | 'not-found' | 'last-method'> {
      const own = await repository.listFor(user.id);
      if (!own.some((passkey) => passkey.id === id)) return 'not-found';
      if (!user.passwordHash && own.length === 1) return 'last-method';
      if (!(await repository.remove(user.id, id))) return 'not-found';
      await events.record({ type: 'passkey.removed', userId: user.id, actor: user.id, ip, detail: { passkeyId: id } });
      return 'removed';
    },

    /** Whether the account has a passkey: then a password sign-in asks for it as the second factor. */
    has: async (userId: string) => (await repository.countFor(userId)) > 0,

    /** Options for a passwordless sign-in, bound to `signInId` (the interaction). */
    async signInOptions(signInId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const request = await generateAuthenticationOptions({ rpID: relyingParty.id, userVerification: 'required' });
      await cache.set(challengeKey('sign-in', signInId), request.challenge, CHALLENGE_SECONDS);
      return request;
    },

    /** Options for the second factor after a password: the account's own passkeys, user verification preferred. */
    async secondFactorOptions(signInId: string, userId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const own = await repository.listFor(userId);
      const request = await generateAuthenticationOptions({
        rpID: relyingParty.id,
        userVerification: 'preferred',
        allowCredentials: own.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports })),
      });
      await cache.set(challengeKey('second-factor', signInId), request.challenge, CHALLENGE_SECONDS);
      return request;
    },

    /**
     * A passwordless sign-in: the challenge of this sign-in (used once), a known credential, the
     * user handle it returns naming the credential's owner, user verification, and a counter that
     * moved forward (or stays zero, as synced passkeys' do). A counter going backwards means a
     * cloned authenticator: refused and recorded.
     */
    signIn: (signInId: string, response: AuthenticationResponseJSON, ip: string) =>
      assertion({ purpose: 'sign-in', signInId, response, ip, requireUserVerification: true }),

    /** The second factor after a password: the same checks, for a passkey of `userId`, user verification not required. */
    secondFactor: (signInId: string, userId: string, response: AuthenticationResponseJSON, ip: string) =>
      assertion({ purpose: 'second-factor', signInId, response, ip, requireUserVerification: false, owner: userId }),
  };

  async function assertion(check: {
    purpose: 'sign-in' | 'second-factor';
    signInId: string;
    response: AuthenticationResponseJSON;
    ip: string;
    requireUserVerification: boolean;
    /** For a second factor: the account that passed the first. */
    owner?: string;
  }): Promise<PasskeySignIn> {
    const { response, ip } = check;
    const failures = `passkey-failures:${ip}`;
    if (Number((await cache.get(failures)) ?? 0) >= PASSKEY_FAILURE_LIMIT.perIp)
      return {
        outcome: 'retry-later',
        retryAfterSeconds: (await cache.ttl(failures)) ?? PASSKEY_FAILURE_LIMIT.windowSeconds,
      };
    const refuse = async (reason: string, passkey?: PasskeyRow): Promise<PasskeySignIn> => {
      await cache.increment(failures, PASSKEY_FAILURE_LIMIT.windowSeconds);
      const userId = passkey?.userId ?? check.owner;
      await events.record({
        type: 'sign_in.failed',
        userId,
        actor: userId ?? 'anonymous',
        ip,
        detail: { method: check.purpose === 'sign-in' ? 'passkey' : 'passkey_second_factor', reason },
      });
      return { outcome: 'refused', reason };
    };
    const challenge = await cache.take(challengeKey(check.purpose, check.signInId));
    if (!challenge) return refuse('no_challenge');
    const passkey = typeof response.id === 'string' ? await repository.findByCredentialId(response.id) : null;
    if (!passkey) return refuse('unknown_credential');
    if (check.owner !== undefined && passkey.userId !== check.owner) return refuse('not_this_account', passkey);
    const userHandle = response.response?.userHandle;
    if (userHandle && Buffer.from(userHandle, 'base64url').toString() !== passkey.userId)
      return refuse('user_handle_mismatch', passkey);
    const verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      ...expected,
      credential: {
        id: passkey.credentialId,
        publicKey: new Uint8Array(passkey.publicKey),
        counter: Number(passkey.counter),
        transports: passkey.transports,
      },
      requireUserVerification: check.requireUserVerification,
    }).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
    if (verification instanceof Error) {
      if (/counter/i.test(verification.message)) {
        await events.record({
          type: 'passkey.counter_regressed',
          userId: passkey.userId,
          actor: 'system',
          ip,
          detail: { passkeyId: passkey.id },
        });
        return refuse('counter_regressed', passkey);
      }
      return refuse(/verif/i.test(verification.message) ? 'user_not_verified' : 'invalid_assertion', passkey);
    }
    if (!verification.verified) return refuse('invalid_assertion', passkey);
    const { newCounter } = verification.authenticationInfo;
    if (!(await repository.recordUse(passkey.id, passkey.counter, newCounter))) return refuse('raced', passkey);
    const owner = await users.findById(passkey.userId);
    if (!owner || owner.disabledAt) return refuse('account_disabled', passkey);
    return { outcome: 'signed-in', userId: passkey.userId };
  }
}

export type Passkeys = ReturnType<typeof passkeys>;

/** Parses a ceremony's response as the browser script posted it (a JSON form field); undefined when it is not one. */
export function ceremonyResponse<T extends { id: string }>(field: string | null): T | undefined {
  if (!field || field.length > 64_000) return undefined;
  try {
    const parsed = JSON.parse(field) as unknown;
    return parsed && typeof parsed === 'object' && typeof (parsed as { id?: unknown }).id === 'string'
      ? (parsed as T)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A name a person gave a passkey: trimmed, at most 60 characters, "Passkey" when empty. */
export function passkeyName(name: string): string {
  const trimmed = name.replace(/\s+/g, ' ').trim().slice(0, NAME_MAX);
  return trimmed || 'Passkey';
}
