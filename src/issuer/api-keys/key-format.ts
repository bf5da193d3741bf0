import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The format of every long-lived credential Latchkey hands out, after GitHub's: a prefix naming the
 * kind, 30 base62 characters of randomness (178 bits), and a 6-character base62 CRC32 of everything
 * before it. The prefix lets secret scanners find a leaked key and route it to us; the checksum lets
 * them (and us) tell a real-looking key from a typo or a fake offline, so a mangled key is refused
 * before any storage is read. docs/api-keys.md publishes the pattern.
 */
export const KEY_KINDS = {
  /** A person's key (personal access token), exchanged for access tokens (RFC 8693). */
  personal: 'lk_pat_',
  /** A service client's key: its client secret, limited to a set of permissions and an expiry. */
  service: 'lk_svc_',
  /** A client secret (clients created before this format keep their older secrets). */
  clientSecret: 'lk_cs_',
} as const;

export type KeyKind = keyof typeof KEY_KINDS;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 30;
const CHECKSUM_LENGTH = 6;

/** The published pattern: one regular expression per kind would differ only in the prefix. */
export const KEY_PATTERN = /\blk_(?:pat|svc|cs)_[0-9A-Za-z]{36}\b/;

/** Uniform base62 characters by rejection sampling (bytes of 248 and above are dropped: 248 = 4 × 62). */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= 248) continue;
      out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function base62(value: number, width: number): string {
  let out = '';
  for (let rest = value; out.length < width; rest = Math.floor(rest / 62)) out = ALPHABET[rest % 62] + out;
  return out;
}

const checksumOf = (body: string): string => base62(crc32(body), CHECKSUM_LENGTH);

/** A new key of a kind: the only time its full text exists outside the holder's hands. */
export function generateKey(kind: KeyKind): string {
  const body = KEY_KINDS[kind] + randomBase62(RANDOM_LENGTH);
  return body + checksumOf(body);
}

/**
 * The kind of a presented key whose shape and checksum are right; undefined for anything else
 * (another format, a typo, a truncated paste). Pure: no storage is read.
 */
export function keyKindOf(presented: string): KeyKind | undefined {
  const kind = (Object.keys(KEY_KINDS) as KeyKind[]).find((name) => presented.startsWith(KEY_KINDS[name]));
  if (!kind) return undefined;
  const prefix = KEY_KINDS[kind];
  if (presented.length !== prefix.length + RANDOM_LENGTH + CHECKSUM_LENGTH) return undefined;
  const body = presented.slice(0, -CHECKSUM_LENGTH);
  if (!/^[0-9A-Za-z]+$/.test(presented.slice(prefix.length))) return undefined;
  return checksumOf(body) === presented.slice(-CHECKSUM_LENGTH) ? kind : undefined;
}

/** What people see to recognise a key in lists: its prefix and the first four random characters. */
export function visiblePrefix(key: string): string {
  const kind = (Object.keys(KEY_KINDS) as KeyKind[]).find((name) => key.startsWith(KEY_KINDS[name]));
  return key.slice(0, (kind ? KEY_KINDS[kind].length : 0) + 4);
}
