import { createHmac, randomBytes } from 'node:crypto';
import { sameSecret } from '../../shared/crypto/digest.ts';
import { subkey } from '../../shared/crypto/sealing.ts';
import type { Context } from 'koa';
import type { WayForward } from '../../shared/http/errors.ts';
import { expiredForm, foreignForm, retryStep } from '../http/page-errors.ts';
import { readForm } from '../../shared/http/form-body.ts';

/**
 * Protects our sign-in forms against cross-site submission twice over: the browser must say the
 * form came from the issuer's own origin, and the form must carry a token bound to this interaction
 * (an HMAC of its id, so nothing is stored). Our pages send `Referrer-Policy: no-referrer`, under
 * which Chromium sends `Origin: null` even for a same-origin form; then the browser's own
 * `Sec-Fetch-Site: same-origin` is the proof (a cross-site form gets `cross-site`).
 */
export function formGuard(keyEncryptionKey: Buffer, issuerUrl: string) {
  const key = subkey(keyEncryptionKey, 'latchkey form token');
  const origin = new URL(issuerUrl).origin;
  const secure = issuerUrl.startsWith('https://');
  const tokenFor = (uid: string) => createHmac('sha256', key).update(`form:${uid}`).digest('base64url');
  const browserCookie = (ctx: Context) => {
    const value = ctx.cookies.get(BROWSER_COOKIE);
    return value && /^[A-Za-z0-9_-]{22}$/.test(value) ? value : undefined;
  };

  async function checkedForm(
    ctx: Context,
    expectedToken: string | undefined,
    retry: WayForward,
  ): Promise<URLSearchParams> {
    const declared = ctx.get('origin');
    const sameOrigin =
      declared && declared !== 'null' ? declared === origin : ctx.get('sec-fetch-site') === 'same-origin';
    if (!sameOrigin) throw foreignForm(retry);
    const form = await readForm(ctx);
    if (!sameSecret(expectedToken ?? '', form.get('csrf') ?? '')) throw expiredForm(retry);
    return form;
  }

  return {
    tokenFor,

    /** Reads a POSTed sign-in form after checking where it came from and its token (bound to the interaction); 403 otherwise. */
    readForm: (ctx: Context, uid: string): Promise<URLSearchParams> => checkedForm(ctx, tokenFor(uid), retryStep(uid)),

    /**
     * The form token of pages outside a sign-in (reset, sign-up, account): bound to a random
     * per-browser cookie, set here when the browser has none yet.
     */
    browserToken(ctx: Context): string {
      let value = browserCookie(ctx);
      if (!value) {
        value = randomBytes(16).toString('base64url');
        ctx.cookies.set(BROWSER_COOKIE, value, {
          httpOnly: true,
          sameSite: 'lax',
          secure,
          path: '/',
          overwrite: true,
          signed: false,
        });
      }
      return tokenFor(`browser:${value}`);
    },

    /** `retry` is where a person goes when the form has expired: by default, the page at the same path. */
    readBrowserForm(
      ctx: Context,
      retry: WayForward = { href: ctx.path, text: 'Start again' },
    ): Promise<URLSearchParams> {
      const value = browserCookie(ctx);
      return checkedForm(ctx, value ? tokenFor(`browser:${value}`) : undefined, retry);
    },
  };
}

const BROWSER_COOKIE = 'latchkey.form';

export type FormGuard = ReturnType<typeof formGuard>;

/** A fresh nonce per response, for the page's one inline stylesheet. */
export const newNonce = () => randomBytes(16).toString('base64');
