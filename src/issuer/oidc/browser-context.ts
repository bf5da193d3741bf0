import { AsyncLocalStorage } from 'node:async_hooks';
import type { Middleware } from 'koa';

interface BrowserContext {
  userAgent: string;
}

const storage = new AsyncLocalStorage<BrowserContext>();

/**
 * oidc-provider saves sessions deep inside its own code, with no request at hand; this carries the
 * browser's User-Agent down to the adapter, so the account page can say which device a session is.
 */
export function browserContext(): Middleware {
  return (ctx, next) => storage.run({ userAgent: ctx.get('user-agent') }, next);
}

export const currentBrowser = (): BrowserContext | undefined => storage.getStore();

/** "Firefox on Linux": enough for a person to recognise their own device, from the User-Agent alone. */
export function describeDevice(userAgent: string | undefined): string {
  const ua = userAgent ?? '';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /HeadlessChrome\//.test(ua)
      ? 'Headless Chrome'
      : /Chrome\//.test(ua)
        ? 'Chrome'
        : /Firefox\//.test(ua)
          ? 'Firefox'
          : /Safari\//.test(ua)
            ? 'Safari'
            : /curl\//.test(ua)
              ? 'curl'
              : /node|undici/i.test(ua)
                ? 'Node.js'
                : 'Unknown browser';
  const system = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : undefined;
  return system ? `${browser} on ${system}` : browser;
}
