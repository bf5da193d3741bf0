import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Cache } from '../../shared/cache/cache.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import { sha256Base64url } from '../../shared/crypto/digest.ts';
import { GRANT_TYPES } from '../../shared/protocol.ts';
import { cookieValue, hashId, PROVIDER_COOKIES } from './session-index.ts';
import { sendOAuthError, type TokenRequest } from './token-request.ts';

/** Wrong user codes allowed per window before the device page stops checking them. */
export const USER_CODE_GUESS_LIMITS = { perIp: 20, perSession: 5, windowSeconds: 15 * 60 };

/**
 * The user-code space is small by design (8 characters people can type), so guessing is limited:
 * each wrong code counts against the browser session and the IP address, and past either limit the
 * page answers 429 without looking codes up (the issuer asks `limitedFor` before the provider sees the POST).
 */
export function userCodeGuessLimit(cache: Cache, limits = USER_CODE_GUESS_LIMITS) {
  const keys = (ip: string, session: string | undefined) => [
    `device-guess:ip:${ip}`,
    ...(session ? [`device-guess:session:${sha256Base64url(session)}`] : []),
  ];

  return {
    recordWrongCode: async (ip: string, cookieHeader: string | undefined): Promise<void> => {
      await Promise.all(
        keys(ip, cookieValue(cookieHeader, PROVIDER_COOKIES.session)).map((key) =>
          cache.increment(key, limits.windowSeconds),
        ),
      );
    },

    /** Seconds until this browser or address may enter codes again when it has guessed too often; undefined otherwise. */
    limitedFor: async (cookieHeader: string | undefined, ip: string): Promise<number | undefined> => {
      const session = cookieValue(cookieHeader, PROVIDER_COOKIES.session);
      const [ipCount, sessionCount] = await Promise.all(
        keys(ip, session).map(async (key) => Number((await cache.get(key)) ?? 0)),
      );
      const limited = (ipCount ?? 0) >= limits.perIp || (sessionCount ?? 0) >= limits.perSession;
      if (!limited) return undefined;
      return (
        (await cache.ttl(
          keys(ip, session)[sessionCount !== undefined && sessionCount >= limits.perSession ? 1 : 0]!,
        )) ?? limits.windowSeconds
      );
    },
  };
}

export type UserCodeGuessLimit = ReturnType<typeof userCodeGuessLimit>;

/**
 * oidc-provider hands its device forms over as HTML (an unlabelled input with an inline handler our
 * CSP blocks). The pages render their own, accessible forms; from oidc-provider's they take only the
 * form's action and its anti-forgery value, so its checks apply unchanged.
 */
function formTarget(form: string): { action: string; xsrf: string } {
  const action = /action="([^"]*)"/.exec(form)?.[1] ?? '/device';
  const xsrf = /name="xsrf" value="([^"]*)"/.exec(form)?.[1] ?? '';
  return { action, xsrf };
}

/**
 * The device-flow pages, from views/: enter the code, see which client asks, continue to sign in.
 * Allowing or denying comes after the sign-in, on the consent page (the interaction policy's
 * `device_confirmation`), where the person sees which account the device will use.
 */
export function deviceFlowPages(
  guesses: UserCodeGuessLimit,
  pages: PageRenderer,
  accountEmail: (accountId: string) => Promise<string | undefined>,
) {
  return {
    async userCodeInputSource(
      ctx: KoaContextWithOIDC,
      form: string,
      _out?: unknown,
      err?: Error & { userCode?: string },
    ) {
      let error: string | undefined;
      if (err?.name === 'AlreadyUsedError' && err.userCode && (await releaseAbandonedCode(ctx, err.userCode))) {
        const notice = 'The sign-in for this code was not finished. Continue to start it again.';
        pages.render(ctx, 'device-input', {
          title: 'Connect a device',
          ...formTarget(form),
          code: err.userCode,
          notice,
        });
        return;
      }
      if (err?.name === 'NotFoundError') {
        await guesses.recordWrongCode(ctx.ip, ctx.get('cookie'));
        error = 'That code is not valid. Check it and try again.';
      } else if (err?.name === 'ExpiredError') error = 'That code has expired. Start again on your device.';
      else if (err?.name === 'AlreadyUsedError') error = 'That code has already been used.';
      else if (err?.name === 'AbortedError') error = 'Sign-in was cancelled.';
      else if (err) error = 'Enter the code shown on your device.';
      const code = err?.name === 'NotFoundError' ? err.userCode : undefined;
      pages.render(
        ctx,
        'device-input',
        { title: 'Connect a device', ...formTarget(form), error, code },
        err ? 400 : 200,
      );
    },

    async userCodeConfirmSource(
      ctx: KoaContextWithOIDC,
      form: string,
      client: { clientName?: string; clientId: string; clientUri?: string },
      _deviceInfo: unknown,
      userCode: string,
    ) {
      const accountId = ctx.oidc.session?.accountId;
      pages.render(ctx, 'device-confirm', {
        title: 'A device wants to sign in',
        ...formTarget(form),
        clientName: client.clientName ?? client.clientId,
        clientUri: client.clientUri,
        userCode,
        account: accountId ? await accountEmail(accountId) : undefined,
      });
    },

    async successSource(ctx: KoaContextWithOIDC) {
      pages.render(ctx, 'message', {
        title: 'Device connected',
        paragraphs: [
          `${ctx.oidc.client?.clientName ?? 'Your device'} is signed in. You can close this page and return to your device.`,
        ],
      });
    },
  };
}

/**
 * A code confirmed on the device page is marked in flight until the sign-in after it ends, and
 * oidc-provider refuses it as used from then on: a person who closed that tab mid-sign-in could not
 * enter the code again. A code typed again while still unbound (no account, no denial, not expired)
 * is released for a new attempt; whichever sign-in finishes first binds it, and the other is told
 * the code is used. Typing a code still counts against the guess limit like any other.
 */
async function releaseAbandonedCode(ctx: KoaContextWithOIDC, userCode: string): Promise<boolean> {
  // oidc-provider's own normalisation of what a person typed (case and separators do not matter).
  const normalized = userCode.toUpperCase().replace(/\W/g, '');
  const code = await ctx.oidc.provider.DeviceCode.findByUserCode(normalized, { ignoreExpiration: true });
  if (!code?.inFlight || code.accountId || code.error || code.isExpired) return false;
  code.inFlight = undefined;
  await code.save();
  return true;
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

/**
 * oidc-provider fails with a TypeError, after its own error handling, when the device form is
 * posted by a browser whose session it never stored (no GET first, or the session expired or was
 * lost): it tries to re-save a session that was never saved. That is a stale form, not a server
 * error: answer with a page that sends the person back to the code entry.
 */
export function recoverSessionlessDeviceForm(pages: PageRenderer) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    try {
      await next();
    } catch (error) {
      const unsaved = error instanceof TypeError && /previously persisted Sessions/.test(error.message);
      if (!unsaved || !ctx.path.startsWith('/device')) throw error;
      pages.render(
        ctx,
        'message',
        {
          title: 'This page has expired',
          paragraphs: ['Enter the code shown on your device again.'],
          link: { href: '/device', text: 'Enter the code' },
        },
        400,
      );
    }
  };
}

const DEVICE_CODE_GRANT = GRANT_TYPES.deviceCode;

/**
 * RFC 8628 3.5: a device polling faster than its interval gets `slow_down`, and 5 s more from then
 * on. Returns true when it has answered the request itself.
 */
export function devicePollThrottle({ cache, intervalSeconds }: { cache: Cache; intervalSeconds: number }) {
  return async function throttleDevicePolling(request: TokenRequest): Promise<boolean> {
    const deviceCode = request.form.get('grant_type') === DEVICE_CODE_GRANT ? request.form.get('device_code') : null;
    if (!deviceCode) return false;
    const key = `oidc:device-poll:${hashId(deviceCode)}`;
    const previous = await cache.get(key);
    const state = previous
      ? (JSON.parse(previous) as { last: number; interval: number })
      : { last: 0, interval: intervalSeconds };
    const nowMs = Date.now();
    if (nowMs - state.last < state.interval * 1000) {
      state.interval += 5;
      state.last = nowMs;
      await cache.set(key, JSON.stringify(state), 900);
      sendOAuthError(
        request.res,
        400,
        'slow_down',
        `polling too fast; wait at least ${state.interval} seconds between requests`,
      );
      return true;
    }
    await cache.set(key, JSON.stringify({ last: nowMs, interval: state.interval }), 900);
    return false;
  };
}
