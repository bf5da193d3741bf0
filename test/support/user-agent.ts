/**
 * A minimal browser for protocol tests: keeps cookies, follows redirects by hand so a test can stop
 * at the client's redirect URI, and submits forms. (The real-browser tests use Chromium.)
 */
/** Chromium's Accept header for a navigation. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

export class UserAgent {
  readonly #cookies = new Map<string, string>();
  readonly #setCookieHeaders: string[] = [];
  /** The form token of the last page shown (its hidden `csrf` field). */
  #csrf: string | undefined;

  #remember(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      this.#setCookieHeaders.push(header);
      const [pair] = header.split(';');
      const separator = pair!.indexOf('=');
      const name = pair!.slice(0, separator).trim();
      const value = pair!.slice(separator + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(header) || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  /**
   * The form token of the last page this browser was shown, which a form submission names
   * explicitly (`{ csrf: agent.formToken(), ... }`): no test sends it without saying so.
   */
  formToken(): string {
    if (this.#csrf === undefined) throw new Error('no page with a form token has been shown yet');
    return this.#csrf;
  }

  /** The current value of a cookie this browser holds. */
  cookie(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  /** Every Set-Cookie header received, to check cookie attributes. */
  setCookieHeaders(): string[] {
    return [...this.#setCookieHeaders];
  }

  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size)
      headers.set('cookie', [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.#remember(response);
    if (response.headers.get('content-type')?.includes('text/html')) {
      const token = /name="csrf" value="([^"]+)"/.exec(await response.clone().text())?.[1];
      if (token) this.#csrf = token;
    }
    return response;
  }

  /** Follows redirects until one leaves `origin` (the client's redirect URI) or a page answers. */
  async follow(url: string | URL, origin: string, init: RequestInit = {}): Promise<{ response: Response; url: URL }> {
    let current = new URL(url);
    let response = await this.request(current, init);
    for (let hops = 0; hops < 15 && response.status >= 300 && response.status < 400; hops += 1) {
      await response.body?.cancel();
      current = new URL(response.headers.get('location')!, current);
      if (current.origin !== origin) return { response, url: current };
      response = await this.request(current);
    }
    return { response, url: current };
  }

  async submitForm(
    action: string | URL,
    fields: Record<string, string>,
    origin: string,
  ): Promise<{ response: Response; url: URL }> {
    return this.follow(action, origin, {
      method: 'POST',
      // What a browser sends with a form: it wants a page back.
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin, accept: BROWSER_ACCEPT },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

/** The hidden inputs and action of the first form on a page (oidc-provider's device and logout pages). */
export function parseForm(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]+)"/i.exec(html)?.[1] ?? '';
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
    const name = /name="([^"]+)"/.exec(match[0])?.[1];
    const value = /value="([^"]*)"/.exec(match[0])?.[1];
    if (name) fields[name] = value ?? '';
  }
  return { action, fields };
}
