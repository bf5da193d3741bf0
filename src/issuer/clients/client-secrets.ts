import { sameSecret, sha256Base64url } from '../../shared/crypto/digest.ts';
import { generateKey } from '../api-keys/key-format.ts';

/**
 * `lk_cs_` and 178 random bits with a checksum (docs/api-keys.md), so secret scanners recognise a
 * leaked one; guessing is hopeless, so a fast hash suffices where a password would need argon2.
 * Secrets made before this format (256 bits, base64url) keep working: only the hash is compared.
 */
export function generateClientSecret(): string {
  return generateKey('clientSecret');
}

export function hashClientSecret(secret: string): string {
  return sha256Base64url(secret);
}

/** Compares a presented secret with a stored hash in time independent of where they differ. */
export function clientSecretMatches(presented: string, storedHash: string): boolean {
  return sameSecret(storedHash, hashClientSecret(presented));
}
