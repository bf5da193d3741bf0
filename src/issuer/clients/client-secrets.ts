import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 random bits: guessing is hopeless, so a fast hash suffices where a password would need argon2. */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashClientSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** Compares a presented secret with a stored hash in time independent of where they differ. */
export function clientSecretMatches(presented: string, storedHash: string): boolean {
  const presentedHash = Buffer.from(hashClientSecret(presented));
  const stored = Buffer.from(storedHash);
  return presentedHash.length === stored.length && timingSafeEqual(presentedHash, stored);
}
