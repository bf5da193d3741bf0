import { randomBytes } from 'node:crypto';
import { sameSecret, sha256Base64url } from '../../shared/crypto/digest.ts';

/** 256 random bits: guessing is hopeless, so a fast hash suffices where a password would need argon2. */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashClientSecret(secret: string): string {
  return sha256Base64url(secret);
}

/** Compares a presented secret with a stored hash in time independent of where they differ. */
export function clientSecretMatches(presented: string, storedHash: string): boolean {
  return sameSecret(storedHash, hashClientSecret(presented));
}
