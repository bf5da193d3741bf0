import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from 'koa';
import { sameSecret } from '../../shared/crypto/digest.ts';

/** The file in the data folder that holds this start's local-operator credential (mode 0600). */
export const LOCAL_OPERATOR_FILE = 'local-operator.token';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * The credential `latchkey` uses beside a running issuer on the same machine, with no login: 256
 * random bits the issuer writes into its data folder at each start (mode 0600, replacing the last
 * one). Whoever can read it could already read the embedded database, the key-encryption key and
 * everything else in that folder, so it gives no power they do not have. It is accepted only on a
 * direct loopback connection (the socket's address, and no proxy's forwarding header), so a
 * request relayed from another machine cannot use it even when a proxy on this one forwards it.
 */
export function localOperator(dataDir: string) {
  const file = path.join(dataDir, LOCAL_OPERATOR_FILE);
  return {
    file,
    /** Writes a fresh credential (atomically: a reader never sees half of one). */
    async issue(): Promise<void> {
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
      await rename(temporary, file);
    },
    /** True for a direct loopback request carrying the current credential. */
    async accepts(ctx: Context, presented: string): Promise<boolean> {
      const address = ctx.req.socket.remoteAddress ?? '';
      if (!LOOPBACK.has(address) || ctx.get('x-forwarded-for') || ctx.get('forwarded')) return false;
      // Read at each use: another instance sharing this data folder may have written a newer one.
      const current = (await readFile(file, 'utf8').catch(() => '')).trim();
      return current.length > 0 && sameSecret(presented, current);
    },
  };
}

export type LocalOperator = ReturnType<typeof localOperator>;
