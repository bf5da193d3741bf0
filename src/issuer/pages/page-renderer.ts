import { MAX_PASSWORD_LENGTH } from '../../accounts/password-policy.ts';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

const VIEWS_DIRECTORY = fileURLToPath(new URL('../../../views', import.meta.url));

/** What a page's response needs from its request: headers to set, a status, a body. */
export interface PageTarget {
  status: number;
  type: string;
  body: unknown;
  set(field: string, value: string): void;
}

export interface PageData {
  title: string;
  error?: string;
  notice?: string;
  wide?: boolean;
  /** Origins this page may load images from besides itself (a client's logo on the consent page). */
  imageOrigins?: string[];
  /** A fixed script the page runs (from views/scripts/, never built from request data), allowed by the same nonce. */
  script?: string;
  /** Script files of ours the page loads first (paths under /assets/, see page-assets.ts), under the same nonce. */
  scriptAssets?: string[];
  [field: string]: unknown;
}

/**
 * Renders the templates in views/ (Eta, escaping every `<%= %>`), with the headers every page of
 * ours sends: not cached (pages hold form tokens and account data), never framed, no referrer (a
 * link's token must not leak to another site), and a CSP that allows only the one inline
 * stylesheet and, on the few pages that need one, one fixed script, by a nonce made for this response.
 */
export function pageRenderer(viewsDirectory = VIEWS_DIRECTORY) {
  const eta = new Eta({ views: viewsDirectory, cache: true, autoEscape: true, autoTrim: false });
  const styles = readFileSync(`${viewsDirectory}/styles.css`, 'utf8');
  const scripts = new Map(
    readdirSync(`${viewsDirectory}/scripts`)
      .filter((file) => file.endsWith('.js'))
      .map((file) => [file.slice(0, -3), readFileSync(`${viewsDirectory}/scripts/${file}`, 'utf8')]),
  );

  return {
    render(target: PageTarget, view: string, data: PageData, status = 200): void {
      const nonce = randomBytes(16).toString('base64');
      const script = data.script ? scripts.get(data.script) : undefined;
      if (data.script && script === undefined) throw new Error(`no script views/scripts/${data.script}.js`);
      target.set('Cache-Control', 'no-store');
      // No form-action: Chromium applies it to the redirects after a POST, which end at the client's redirect URI.
      target.set(
        'Content-Security-Policy',
        `default-src 'none'; style-src 'nonce-${nonce}';${script ? ` script-src 'nonce-${nonce}'; connect-src 'self';` : ''} img-src ${["'self'", 'data:', ...(data.imageOrigins ?? [])].join(' ')}; frame-ancestors 'none'; base-uri 'none'`,
      );
      target.set('Referrer-Policy', 'no-referrer');
      target.set('X-Frame-Options', 'DENY');
      target.set('X-Content-Type-Options', 'nosniff');
      target.status = status;
      target.type = 'html';
      // One password length limit on every page, from the policy (the server enforces the same).
      target.body = eta.render(`./${view}`, {
        ...data,
        nonce,
        styles,
        script,
        passwordMaxLength: MAX_PASSWORD_LENGTH,
      });
    },
  };
}

export type PageRenderer = ReturnType<typeof pageRenderer>;
