import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../shared/logging/logger.ts';

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
