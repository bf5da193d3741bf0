import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * SHA-256 of a string, base64url: how Latchkey stores and names anything that must not be kept as
 * it was presented (mailed tokens, session ids, client secrets, short codes) and how DPoP binds a token.
 */
export const sha256Base64url = (value: string): string => createHash('sha256').update(value).digest('base64url');

/**
 * Whether a presented secret (a form token, a MAC, a hash) equals the expected one, in time that
 * does not depend on where they differ. An empty expected value matches nothing.
 */
export function sameSecret(expected: string | Buffer, given: string | Buffer): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length > 0 && a.length === b.length && timingSafeEqual(a, b);
}
