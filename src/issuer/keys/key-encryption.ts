import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../shared/logging/logger.ts';

/**
 * Seals private key material under the key-encryption key (AES-256-GCM). The associated data binds
 * each ciphertext to its row (the kid), so a ciphertext copied onto another key's row fails to open.
 */
export interface KeyEncryption {
  seal(plaintext: string, associatedData: string): string;
  open(sealed: string, associatedData: string): string;
}

export function keyEncryption(key: Buffer): KeyEncryption {
  if (key.length !== 32) throw new Error('the key-encryption key must be 32 bytes');
  return {
    seal(plaintext, associatedData) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(associatedData));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
    },
    open(sealed, associatedData) {
      const bytes = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
      decipher.setAAD(Buffer.from(associatedData));
      decipher.setAuthTag(bytes.subarray(12, 28));
      return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}

/**
 * The configured key, or in the embedded mode one generated into the data folder on first start.
 * A generated key sits beside the data it protects, which protects nothing against a stolen disk:
 * fine for a demo, said loudly in the log.
 */
export async function resolveKeyEncryptionKey(
  configured: Buffer | undefined,
  dataDir: string,
  log: Logger,
): Promise<Buffer> {
  if (configured) return configured;
  const file = path.join(dataDir, 'key-encryption-key');
  try {
    return Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const generated = randomBytes(32);
  try {
    await writeFile(file, `${generated.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process of this data folder wrote one first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      return Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
    throw error;
  }
  log.warn(
    { file },
    'generated a key-encryption key for the embedded mode; set KEY_ENCRYPTION_KEY (or KEY_ENCRYPTION_KEY_FILE) in production',
  );
  return generated;
}
