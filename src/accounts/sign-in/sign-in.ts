import type { Cache } from '../../shared/cache/cache.ts';
import type { Attempt, Lockout } from '../lockout.ts';
import type { Mailer } from '../mail/mailer.ts';
import { accountLocked } from '../mail/messages.ts';
import type { SecurityEvents } from '../security-events.ts';
import type { UserRow } from '../user-repository.ts';

/**
 * What every sign-in strategy shares: the outcome it reports, the hand-over from a first factor to
 * the second (or to a finished sign-in), the lockout around each check of a secret, and the
 * `amr`/`acr` a finished sign-in carries. A strategy (password, emailed link, and later passkeys or
 * an upstream provider) proves a first factor and calls `afterFirstFactor`; nothing here knows HTTP.
 */

/**
 * RFC 8176 method references: `pwd` a password, `email` an emailed link, `fed` another identity provider, `otp` TOTP, `mfa` a
 * recovery code, `hwk` a passkey (proof of a held key), `user` its user verification (PIN, biometrics).
 */
export type FirstFactor = 'pwd' | 'email' | 'fed';

/** A finished sign-in, as oidc-provider's login result wants it. */
export interface CompletedSignIn {
  accountId: string;
  amr: string[];
  acr: string;
}

export type SignInResult =
  /** Wrong secret, unknown or disabled account, locked: one answer for all, so none is told apart. */
  | { outcome: 'refused' }
  /** Nothing was checked (too soon after a failure, or too many checks at once). */
  | { outcome: 'retry-later'; retryAfterSeconds: number }
  | { outcome: 'second-factor-needed' }
  | { outcome: 'signed-in'; signIn: CompletedSignIn };

/** Who is asking, as far as the domain needs to know: an address, and whether this browser signed in to an account before. */
export interface Requester {
  ip: string;
  trustedDevice(userId: string | undefined): string | undefined;
}

export interface PendingSecondFactor {
  userId: string;
  firstFactor: FirstFactor;
}

const PENDING_SECONDS = 600;
const METHOD_NAMES: Record<FirstFactor, string> = { pwd: 'password', email: 'magic_link', fed: 'federated' };
const SECOND_FACTOR_NAMES = { otp: 'totp', mfa: 'recovery_code', hwk: 'passkey' } as const;

/** The multi-factor `acr` when more than one method was used, else one naming the single method. */
export function acrFor(amr: string[]): string {
  return amr.length > 1 ? 'urn:latchkey:mfa' : `urn:latchkey:${amr[0]}`;
}

export interface SignInCoreOptions {
  /** Holds "first factor accepted, second pending", per sign-in, for ten minutes. */
  cache: Cache;
  lockout: Lockout;
  events: SecurityEvents;
  mailer: Mailer;
  issuerUrl: string;
  /** Whether the account has a passkey, which then serves as its second factor after a password. */
  hasPasskey?: (userId: string) => Promise<boolean>;
}

type Checked = { outcome: 'passed' } | Exclude<SignInResult, { outcome: 'signed-in' | 'second-factor-needed' }>;

/** The shared steps of every sign-in strategy, over the lockout, the security log and the pending-second-factor store. */
export class SignInCore {
  readonly #options: SignInCoreOptions;

  constructor(options: SignInCoreOptions) {
    this.#options = options;
  }

  /**
   * Checks one secret under the lockout: admitted or not, then the check, then the failure counted
   * (and the owner told of a lock) or the slot given back. `check` answers why it failed, or
   * undefined when the secret was right; a refusal is recorded with that reason and `detail`.
   */
  async checkSecret(
    attempt: Attempt,
    user: UserRow | null | undefined,
    check: () => Promise<string | undefined>,
    detail: Record<string, unknown> = {},
  ): Promise<Checked> {
    const { lockout, events } = this.#options;
    const refuse = async (reason: string): Promise<Checked> => {
      const actor = attempt.userId ?? 'anonymous';
      const event = { userId: attempt.userId, actor, ip: attempt.ip, detail: { reason, ...detail } };
      await events.record({ type: 'sign_in.failed', ...event });
      return { outcome: 'refused' };
    };
    const admission = await lockout.admit(attempt);
    if (!admission.admitted) {
      if (admission.reason === 'throttled' || admission.reason === 'busy')
        return { outcome: 'retry-later', retryAfterSeconds: admission.retryAfterSeconds };
      await this.#notifyLock(user, attempt.ip, admission.lockedForSeconds);
      return refuse(admission.reason);
    }
    const failure = await check();
    if (failure !== undefined) {
      await this.#notifyLock(user, attempt.ip, (await lockout.failed(attempt, admission.ticket)).lockedForSeconds);
      return refuse(failure);
    }
    await lockout.succeeded(admission.ticket);
    return { outcome: 'passed' };
  }

  /** Where every first factor ends: the second factor when enrolled (TOTP or a passkey), else a finished sign-in. */
  async afterFirstFactor(signInId: string, user: UserRow, firstFactor: FirstFactor, ip: string): Promise<SignInResult> {
    if (user.totpEnabledAt || (await this.#options.hasPasskey?.(user.id))) {
      const pending: PendingSecondFactor = { userId: user.id, firstFactor };
      await this.#options.cache.set(pendingKey(signInId), JSON.stringify(pending), PENDING_SECONDS);
      return { outcome: 'second-factor-needed' };
    }
    return this.#complete(user.id, [firstFactor], METHOD_NAMES[firstFactor], ip);
  }

  async pendingSecondFactor(signInId: string): Promise<PendingSecondFactor | undefined> {
    const stored = await this.#options.cache.get(pendingKey(signInId));
    return stored ? (JSON.parse(stored) as PendingSecondFactor) : undefined;
  }

  /** The second factor passed: the pending state is spent and the sign-in finishes with both methods. */
  async completeSecondFactor(
    signInId: string,
    pending: PendingSecondFactor,
    secondFactor: 'otp' | 'mfa' | 'hwk',
    ip: string,
  ) {
    await this.#options.cache.delete(pendingKey(signInId));
    const method = `${METHOD_NAMES[pending.firstFactor]}+${SECOND_FACTOR_NAMES[secondFactor]}`;
    return this.#complete(pending.userId, [pending.firstFactor, secondFactor], method, ip);
  }

  /**
   * A sign-in complete in one step, with no second factor to ask for: a passkey with user
   * verification is something held and something known or are (`amr` ["hwk", "user"]).
   */
  async completeInOneStep(userId: string, amr: string[], method: string, ip: string): Promise<SignInResult> {
    return this.#complete(userId, amr, method, ip);
  }

  async #notifyLock(user: UserRow | null | undefined, ip: string, lockedForSeconds: number | undefined) {
    if (lockedForSeconds === undefined || !user) return;
    const { events, mailer, issuerUrl } = this.#options;
    await events.record({
      type: 'account.locked',
      userId: user.id,
      actor: 'system',
      ip,
      detail: { seconds: lockedForSeconds },
    });
    mailer.send({ to: user.email, ...accountLocked(lockedForSeconds, issuerUrl) });
  }

  async #complete(userId: string, amr: string[], method: string, ip: string): Promise<SignInResult> {
    await this.#options.events.record({ type: 'sign_in.succeeded', userId, actor: userId, ip, detail: { method } });
    return { outcome: 'signed-in', signIn: { accountId: userId, amr, acr: acrFor(amr) } };
  }
}

export const signInCore = (options: SignInCoreOptions) => new SignInCore(options);

/** Holds "first factor accepted, second pending" for one sign-in. */
const pendingKey = (signInId: string) => `interaction-2fa:${signInId}`;
