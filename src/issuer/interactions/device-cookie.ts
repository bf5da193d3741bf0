import { createHmac, randomBytes } from 'node:crypto';
import { sameSecret } from '../../shared/crypto/digest.ts';
import { subkey } from '../../shared/crypto/sealing.ts';
import type { Context } from 'koa';

export const DEVICE_COOKIE = 'latchkey.device';
const MAX_ACCOUNTS = 10;
const ONE_YEAR_SECONDS = 365 * 86_400;

interface DevicePayload {
  /** A random id for this browser. */
  d: string;
  /** Short hashes of the accounts that have signed in here (not the ids themselves). */
  a: string[];
}

/**
 * The "this browser has signed in to this account before" cookie that exempts its owner from a lock
 * an attacker caused. Signed with a key derived from the key-encryption key, HttpOnly, a year long.
 */
export function deviceCookies(keyEncryptionKey: Buffer, secure: boolean) {
  const key = subkey(keyEncryptionKey, 'latchkey device cookie');
  const mac = (data: string) => createHmac('sha256', key).update(data).digest('base64url');
  const accountTag = (userId: string) =>
    createHmac('sha256', key).update(`account:${userId}`).digest('base64url').slice(0, 16);

  function read(ctx: Context): DevicePayload | undefined {
    const raw = ctx.cookies.get(DEVICE_COOKIE);
    const [data, signature] = raw?.split('.') ?? [];
    if (!data || !signature) return undefined;
    if (!sameSecret(mac(data), signature)) return undefined;
    try {
      return JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as DevicePayload;
    } catch {
      return undefined;
    }
  }

  return {
    /** The device id if this browser has signed in to `userId` before; undefined otherwise. */
    trustedFor(ctx: Context, userId: string | undefined): string | undefined {
      if (!userId) return undefined;
      const payload = read(ctx);
      return payload?.a.includes(accountTag(userId)) ? payload.d : undefined;
    },

    remember(ctx: Context, userId: string): void {
      const payload = read(ctx) ?? { d: randomBytes(12).toString('base64url'), a: [] };
      const tag = accountTag(userId);
      payload.a = [tag, ...payload.a.filter((existing) => existing !== tag)].slice(0, MAX_ACCOUNTS);
      const data = Buffer.from(JSON.stringify(payload)).toString('base64url');
      ctx.cookies.set(DEVICE_COOKIE, `${data}.${mac(data)}`, {
        httpOnly: true,
        sameSite: 'lax',
        secure,
        maxAge: ONE_YEAR_SECONDS * 1000,
        overwrite: true,
        signed: false,
      });
    },
  };
}

export type DeviceCookies = ReturnType<typeof deviceCookies>;
