import { normalizeEmail } from './email-address.ts';
import { randomBytes } from 'node:crypto';
import type { Cache } from '../shared/cache/cache.ts';
import { sha256Base64url } from '../shared/crypto/digest.ts';

/** What a mailed token may be used for; a token made for one purpose is never found under another. */
export type MailTokenPurpose = 'magic_link' | 'password_reset' | 'email_verification';

export interface MailTokenRecord<Data> {
  /** Whom the token is for (a user id, or an email address for a sign-up). */
  subject: string;
  data: Data;
  /** When true (the default), a newer token for the same subject voids this one. */
  newestOnly?: boolean;
}

export interface IssueOptions {
  /**
   * Whether this token voids the subject's earlier ones. True for sign-in and reset links (asking
   * again retires the older mails). False where the request may come from anyone, such as a
   * sign-up, so that a stranger's request cannot void the owner's pending link.
   */
  newestOnly?: boolean;
}

const WELL_FORMED = /^[A-Za-z0-9_-]{43}$/;

/**
 * Tokens sent by mail (sign-in links, password resets, address confirmations): 256 random bits,
 * stored only as a SHA-256 hash (a copy of the store yields no working link), one purpose each,
 * expiring with their record, used once (an atomic take), and only the newest per subject works.
 */
/**
 * The application a mailed flow (sign-up, reset) was asked from, as stored with its token: only for
 * the way back after it, and only when it is a string (older records carry none).
 */
export function returnClientId(data: { clientId?: unknown }): string | undefined {
  return typeof data.clientId === 'string' ? data.clientId : undefined;
}

export function mailTokens(cache: Cache) {
  const recordKey = (purpose: MailTokenPurpose, hash: string) => `mail-token:${purpose}:${hash}`;
  const latestKey = (purpose: MailTokenPurpose, subject: string) =>
    `mail-token:latest:${purpose}:${sha256Base64url(subject)}`;

  async function read<Data>(
    purpose: MailTokenPurpose,
    hash: string,
    take: boolean,
  ): Promise<MailTokenRecord<Data> | undefined> {
    const key = recordKey(purpose, hash);
    const stored = take ? await cache.take(key) : await cache.get(key);
    if (stored === null) return undefined;
    const record = JSON.parse(stored) as MailTokenRecord<Data>;
    if (record.newestOnly === false) return record;
    // Only the newest token of a subject works: asking again voids the earlier mails.
    if ((await cache.get(latestKey(purpose, record.subject))) !== hash) return undefined;
    if (take) await cache.delete(latestKey(purpose, record.subject));
    return record;
  }

  return {
    async issue<Data>(
      purpose: MailTokenPurpose,
      subject: string,
      data: Data,
      ttlSeconds: number,
      { newestOnly = true }: IssueOptions = {},
    ): Promise<string> {
      const token = randomBytes(32).toString('base64url');
      const hash = sha256Base64url(token);
      await cache.set(
        recordKey(purpose, hash),
        JSON.stringify({ subject, data, newestOnly } satisfies MailTokenRecord<Data>),
        ttlSeconds,
      );
      if (newestOnly) await cache.set(latestKey(purpose, subject), hash, ttlSeconds);
      return token;
    },

    /** Looks a token up without using it (the page a link opens shows a button; only its POST uses the token). */
    peek: async <Data>(purpose: MailTokenPurpose, token: string) =>
      WELL_FORMED.test(token) ? read<Data>(purpose, sha256Base64url(token), false) : undefined,

    /** Uses a token: of any number of concurrent callers, at most one gets the record. */
    consume: async <Data>(purpose: MailTokenPurpose, token: string) =>
      WELL_FORMED.test(token) ? read<Data>(purpose, sha256Base64url(token), true) : undefined,

    /** Uses a token known only by its hash (a magic link's short code points at its link this way). */
    consumeHash: <Data>(purpose: MailTokenPurpose, hash: string) => read<Data>(purpose, hash, true),

    /** Seconds the token has left, for records tied to it (the short code of a magic link). */
    async secondsLeft(purpose: MailTokenPurpose, token: string): Promise<number> {
      if (!WELL_FORMED.test(token)) return 0;
      return (await cache.ttl(recordKey(purpose, sha256Base64url(token)))) ?? 0;
    },
  };
}

export type MailTokens = ReturnType<typeof mailTokens>;

/**
 * Fixed-window budgets for sending mail, per address and per client IP, asked before any other work:
 * past a budget nothing is hashed, stored or sent, and the page says exactly what it says when mail
 * goes out (no enumeration, no mail bombing, no unauthenticated amplifier).
 */
export function sendBudget(cache: Cache, limits: { perAddress: number; perIp: number; windowSeconds: number }) {
  return {
    async allow(kind: string, address: string, ip: string): Promise<boolean> {
      const [perAddress, perIp] = await Promise.all([
        cache.increment(
          `send-budget:${kind}:address:${sha256Base64url(normalizeEmail(address))}`,
          limits.windowSeconds,
        ),
        cache.increment(`send-budget:${kind}:ip:${ip}`, limits.windowSeconds),
      ]);
      return perAddress <= limits.perAddress && perIp <= limits.perIp;
    },
  };
}

export type SendBudget = ReturnType<typeof sendBudget>;
