import { randomInt } from 'node:crypto';
import type { Cache } from '../../shared/cache/cache.ts';
import { sameSecret, sha256Base64url } from '../../shared/crypto/digest.ts';
import type { MailTokens, SendBudget } from '../mail-tokens.ts';
import type { Mailer } from '../mail/mailer.ts';
import { magicLink } from '../mail/messages.ts';
import type { SecurityEvents } from '../security-events.ts';
import type { UserRepository } from '../user-repository.ts';
import type { SignInCore, SignInResult } from './sign-in.ts';

/**
 * Sign-in by an emailed link, bound to the sign-in that asked for it:
 * 1. `request`: the same answer and the same work whether or not the address has an account (a
 *    token is made and stored and a mail composed either way), after a per-address and per-IP budget;
 * 2. opening the link does nothing by itself (mail scanners open links). In the browser that asked
 *    it offers a button (`confirmLink`); anywhere else `shortCodeFor` shows a code to type into the
 *    browser that asked (`confirmCode`, five tries);
 * 3. either way the token is used up, the address counts as verified, and the sign-in goes on to
 *    the second factor when the account has one.
 */

interface MagicLinkData {
  /** The sign-in (oidc-provider's interaction uid) the link was asked for. */
  uid: string;
  userId: string | null;
}

interface StoredCode {
  codeHash: string;
  tokenHash: string;
}

/** What a refused code means for the page: try again, or the code was guessed at too often. */
export type CodeRefusal = { outcome: 'wrong-code' } | { outcome: 'too-many-codes' };
export type LinkGone = { outcome: 'link-gone' };

const CODE_ATTEMPTS = 5;
/** Letters that cannot be mistaken for one another when read off one screen and typed on another. */
const CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

const normalizeCode = (code: string) => code.toUpperCase().replace(/[^A-Z]/g, '');
function newShortCode(): string {
  const raw = Array.from({ length: 8 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
  return `${raw.slice(0, 4)}-${raw.slice(4)}`;
}

export interface MagicLinkOptions {
  users: UserRepository;
  links: MailTokens;
  budget: SendBudget;
  mailer: Mailer;
  events: SecurityEvents;
  /** Holds the short code shown on another device, per sign-in. */
  cache: Cache;
  core: SignInCore;
  ttlSeconds: number;
}

/** The emailed-link strategy (see the sequence above). */
export class MagicLinkSignIn {
  readonly #options: MagicLinkOptions;

  constructor(options: MagicLinkOptions) {
    this.#options = options;
  }

  /** The link's account, once it is used: verified, then on to the second factor or a finished sign-in. */
  async #signInWith(signInId: string, userId: string | null | undefined, ip: string): Promise<SignInResult | LinkGone> {
    const { users, core } = this.#options;
    const user = userId ? await users.findById(userId) : null;
    if (!user || user.disabledAt) return { outcome: 'link-gone' };
    if (!user.emailVerified) await users.setEmailVerified(user.id);
    return core.afterFirstFactor(signInId, user, 'email', ip);
  }

  /** `link(token)` is the URL the mail carries; `clientName` the application the person is signing in to. */
  async request(
    signInId: string,
    email: string,
    ip: string,
    mail: { link: (token: string) => string; clientName: () => Promise<string> },
  ) {
    const { users, links, budget, mailer, events, ttlSeconds } = this.#options;
    // The budget comes first: past it, nothing is looked up, stored or sent.
    if (email === '' || !(await budget.allow('magic_link', email, ip))) {
      await events.record({
        type: 'magic_link.requested',
        actor: 'anonymous',
        ip,
        detail: { sent: false, limited: email !== '' },
      });
      return;
    }
    const user = await users.findByEmail(email);
    const recipient = user && !user.disabledAt ? user : undefined;
    const data: MagicLinkData = { uid: signInId, userId: recipient?.id ?? null };
    const [token, clientName] = await Promise.all([
      links.issue('magic_link', recipient?.id ?? `email:${email}`, data, ttlSeconds),
      mail.clientName(),
    ]);
    const actor = recipient?.id ?? 'anonymous';
    await events.record({
      type: 'magic_link.requested',
      userId: recipient?.id,
      actor,
      ip,
      detail: { sent: recipient !== undefined, limited: false },
    });
    const message = { to: recipient?.email ?? email, ...magicLink(mail.link(token), clientName) };
    if (recipient) mailer.send(message);
    else mailer.pretendToSend(message);
  }

  /** True when the token is a live link of an account for this sign-in. */
  async isLive(signInId: string, token: string): Promise<boolean> {
    const { links } = this.#options;
    const record = await links.peek<MagicLinkData>('magic_link', token);
    return Boolean(record?.data.userId) && record?.data.uid === signInId;
  }

  /** The code to show on another device; it lives as long as the link. */
  async shortCodeFor(signInId: string, token: string): Promise<string> {
    const { links, cache } = this.#options;
    const code = newShortCode();
    const stored: StoredCode = { codeHash: sha256Base64url(normalizeCode(code)), tokenHash: sha256Base64url(token) };
    const seconds = Math.max(1, await links.secondsLeft('magic_link', token));
    await cache.set(codeKey(signInId), JSON.stringify(stored), seconds);
    return code;
  }

  /** The button in the browser that asked. */
  async confirmLink(signInId: string, token: string, ip: string): Promise<SignInResult | LinkGone> {
    const { links, cache } = this.#options;
    // Checked before it is used up: a link tried in the wrong sign-in stays good for the right one.
    const found = await links.peek<MagicLinkData>('magic_link', token);
    if (found?.data.uid !== signInId) return { outcome: 'link-gone' };
    const record = await links.consume<MagicLinkData>('magic_link', token);
    if (!record?.data.userId) return { outcome: 'link-gone' };
    await cache.delete(codeKey(signInId));
    return this.#signInWith(signInId, record.data.userId, ip);
  }

  /** The code typed into the browser that asked. */
  async confirmCode(signInId: string, code: string, ip: string): Promise<SignInResult | LinkGone | CodeRefusal> {
    const { links, cache, ttlSeconds } = this.#options;
    const attempts = await cache.increment(attemptsKey(signInId), ttlSeconds);
    if (attempts > CODE_ATTEMPTS) {
      await cache.delete(codeKey(signInId));
      return { outcome: 'too-many-codes' };
    }
    const raw = await cache.get(codeKey(signInId));
    const stored = raw ? (JSON.parse(raw) as StoredCode) : undefined;
    if (!stored || !sameSecret(stored.codeHash, sha256Base64url(normalizeCode(code)))) return { outcome: 'wrong-code' };
    const record = await links.consumeHash<MagicLinkData>('magic_link', stored.tokenHash);
    await cache.delete(codeKey(signInId));
    return this.#signInWith(signInId, record?.data.uid === signInId ? record.data.userId : null, ip);
  }
}

export const magicLinkSignIn = (options: MagicLinkOptions) => new MagicLinkSignIn(options);

const codeKey = (signInId: string) => `interaction-magic-code:${signInId}`;
const attemptsKey = (signInId: string) => `interaction-magic-code-attempts:${signInId}`;
