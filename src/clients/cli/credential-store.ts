import { webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface StoredCredentials {
  issuer: string;
  api: string;
  clientId: string;
  accessToken: string;
  refreshToken: string | undefined;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  sub: string | undefined;
  email: string | undefined;
}

/**
 * Where a command-line client keeps its state: its own variable (TASKCTL_CONFIG_DIR for taskctl),
 * else $XDG_CONFIG_HOME/<name>, else ~/.config/<name>.
 */
export function configDirectory(
  env: NodeJS.ProcessEnv = process.env,
  name = 'latchkey-taskctl',
  variable = 'TASKCTL_CONFIG_DIR',
): string {
  return env[variable] ?? path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), name);
}

/**
 * Tokens and the DPoP key, each in a file only the user can read (0600, in a 0700 folder). The
 * tokens are bound to the key, so a copied credentials file is useless without the key file.
 */
export function credentialStore(directory: string) {
  const credentialsFile = path.join(directory, 'credentials.json');
  const keyFile = path.join(directory, 'dpop-key.json');

  async function writePrivate(file: string, content: string): Promise<void> {
    await mkdir(directory, { recursive: true, mode: 0o700 });
    await writeFile(file, content, { mode: 0o600 });
    await chmod(file, 0o600);
  }

  return {
    credentialsFile,
    async load(): Promise<StoredCredentials | undefined> {
      try {
        return JSON.parse(await readFile(credentialsFile, 'utf8')) as StoredCredentials;
      } catch {
        return undefined;
      }
    },
    save: (credentials: StoredCredentials) =>
      writePrivate(credentialsFile, `${JSON.stringify(credentials, null, 2)}\n`),

    /** The DPoP key pair, made on first use (ES256). */
    async keyPair(): Promise<webcrypto.CryptoKeyPair> {
      const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
      try {
        const { privateKey, publicKey } = JSON.parse(await readFile(keyFile, 'utf8')) as {
          privateKey: webcrypto.JsonWebKey;
          publicKey: webcrypto.JsonWebKey;
        };
        return {
          privateKey: await webcrypto.subtle.importKey('jwk', privateKey, algorithm, false, ['sign']),
          publicKey: await webcrypto.subtle.importKey('jwk', publicKey, algorithm, true, ['verify']),
        };
      } catch {
        const pair = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
        const [privateKey, publicKey] = await Promise.all([
          webcrypto.subtle.exportKey('jwk', pair.privateKey),
          webcrypto.subtle.exportKey('jwk', pair.publicKey),
        ]);
        await writePrivate(keyFile, JSON.stringify({ privateKey, publicKey }));
        return pair;
      }
    },

    async clear(): Promise<void> {
      await rm(credentialsFile, { force: true });
      await rm(keyFile, { force: true });
    },
  };
}

export type CredentialStore = ReturnType<typeof credentialStore>;
