import { createHash } from 'node:crypto';

/**
 * SHA-256 of a string, base64url: how Latchkey stores and names anything that must not be kept as
 * it was presented (mailed tokens, session ids, client secrets, short codes) and how DPoP binds a token.
 */
export const sha256Base64url = (value: string): string => createHash('sha256').update(value).digest('base64url');
