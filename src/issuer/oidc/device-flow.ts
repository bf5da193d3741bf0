import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Cache } from '../../shared/cache/cache.ts';
import { escapeHtml } from './html.ts';

/** Wrong user codes allowed per window before the device page stops checking them. */
export const USER_CODE_GUESS_LIMITS = { perIp: 20, perSession: 5, windowSeconds: 15 * 60 };
const SESSION_COOKIE = 'latchkey.session';

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · Latchkey</title></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

const hashed = (value: string) => createHash('sha256').update(value).digest('base64url');

/**
 * The user-code space is small by design (8 characters people can type), so guessing is limited:
 * each wrong code counts against the browser session and the IP address, and past either limit the
 * page answers 429 without looking codes up.
 */
export function userCodeGuard(cache: Cache, limits = USER_CODE_GUESS_LIMITS) {
  const keys = (ip: string, session: string | undefined) => [`device-guess:ip:${ip}`, ...(session ? [`device-guess:session:${hashed(session)}`] : [])];

  return {
    recordWrongCode: async (ip: string, cookieHeader: string | undefined): Promise<void> => {
      await Promise.all(keys(ip, cookieValue(cookieHeader, SESSION_COOKIE)).map((key) => cache.increment(key, limits.windowSeconds)));
    },

    /** Answers 429 itself and returns true when this browser or address has guessed too often. */
    refuseIfLimited: async (req: IncomingMessage, res: ServerResponse, ip: string): Promise<boolean> => {
      const session = cookieValue(req.headers.cookie, SESSION_COOKIE);
      const [ipCount, sessionCount] = await Promise.all(keys(ip, session).map(async (key) => Number((await cache.get(key)) ?? 0)));
      const limited = (ipCount ?? 0) >= limits.perIp || (sessionCount ?? 0) >= limits.perSession;
      if (!limited) return false;
      const retryAfter = (await cache.ttl(keys(ip, session)[sessionCount !== undefined && sessionCount >= limits.perSession ? 1 : 0]!)) ?? limits.windowSeconds;
      const body = page('Too many attempts', '<p>Too many wrong codes were entered. Wait a while, then enter the code shown on your device again.</p>');
      res.writeHead(429, { 'content-type': 'text/html; charset=utf-8', 'retry-after': String(retryAfter), 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return true;
    },
  };
}

export type UserCodeGuard = ReturnType<typeof userCodeGuard>;

/** The device-flow pages: plain, self-contained HTML (no external fonts or scripts). */
export function deviceFlowPages(guard: UserCodeGuard) {
  return {
    async userCodeInputSource(ctx: KoaContextWithOIDC, form: string, _out?: unknown, err?: Error & { userCode?: string }) {
      let message = '';
      if (err?.name === 'NotFoundError') {
        await guard.recordWrongCode(ctx.ip, ctx.get('cookie'));
        message = '<p role="alert">That code is not valid. Check it and try again.</p>';
      } else if (err?.name === 'ExpiredError') message = '<p role="alert">That code has expired. Start again on your device.</p>';
      else if (err?.name === 'AlreadyUsedError') message = '<p role="alert">That code has already been used.</p>';
      else if (err?.name === 'AbortedError') message = '<p role="alert">Sign-in was cancelled.</p>';
      else if (err) message = '<p role="alert">Enter the code shown on your device.</p>';
      ctx.type = 'html';
      ctx.body = page('Connect a device', `<p>Enter the code shown on your device.</p>${message}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
    },

    async userCodeConfirmSource(ctx: KoaContextWithOIDC, form: string, client: { clientName?: string; clientId: string }, _deviceInfo: unknown, userCode: string) {
      const params = (ctx.oidc.entities.DeviceCode as unknown as { params?: { scope?: string } } | undefined)?.params;
      const scopes = (params?.scope ?? '').split(' ').filter(Boolean);
      ctx.type = 'html';
      ctx.body = page(
        'A device wants to sign in',
        `<p>A device is asking to sign in to <strong>${escapeHtml(client.clientName ?? client.clientId)}</strong> with your account.</p>
<p>Code: <code>${escapeHtml(userCode)}</code>. Continue only if this is the code your device shows and you started this sign-in yourself.</p>
${scopes.length ? `<p>It asks for:</p><ul>${scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join('')}</ul>` : ''}
${form}<button autofocus type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Deny</button>`,
      );
    },

    async successSource(ctx: KoaContextWithOIDC) {
      ctx.type = 'html';
      ctx.body = page('Device connected', `<p>${escapeHtml(ctx.oidc.client?.clientName ?? 'Your device')} is signed in. You can close this page and return to your device.</p>`);
    },
  };
}

/** oidc-provider leaves `interval` out of the device authorization response (RFC 8628 then means 5 s); say it. */
export function advertisePollInterval(intervalSeconds: number) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    if (ctx.oidc?.route === 'device_authorization' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      (ctx.body as Record<string, unknown>).interval = intervalSeconds;
    }
  };
}
