import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { RequestState } from '../../shared/http/request-context.ts';
import { DISCOVERY_PATHS, PROVIDER_ROUTES } from './provider-configuration.ts';

/**
 * Discovery and the JWKS are the same bytes for every caller until the signing keys change (or, for
 * discovery, until the token-exchange grant starts or stops being offered), yet oidc-provider builds
 * them per request and every caller of every relying party fetches them. The provider builds each
 * document once per version; later requests get the stored bytes, an ETag and Cache-Control, and a
 * 304 when they already hold them.
 */
export interface PublishedDocuments {
  /**
   * Answers a GET/HEAD of a document already built for the current keys from memory (true), or
   * leaves the request alone (false). Runs ahead of the request context (see issuer-app).
   */
  answerFromMemory(ctx: Context): Promise<boolean>;
  /**
   * Where `answerFromMemory` could not answer (nothing built yet, or the keys changed): marks the
   * request so that the provider's answer is kept (by `capture`) for the current version.
   */
  build: Middleware<RequestState>;
  /** Installed first in oidc-provider: stores what it built (and marks the answer with the same ETag). */
  capture: (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;
}

interface Stored {
  version: string;
  body: Buffer;
  etag: string;
  headers: Record<string, string>;
}

/** Where `build` asks the provider to leave a document it built for this request. */
const PENDING = Symbol('latchkey.publishedDocument');
type Pending = { version: string; stored?: Stored };
type Tagged = IncomingMessage & { [PENDING]?: Pending };

/** What the provider's answer carries that is the document's own, replayed with the stored bytes. */
const DOCUMENT_HEADERS = [
  'content-type',
  'access-control-allow-origin',
  'content-security-policy',
  'x-frame-options',
  'referrer-policy',
  'x-content-type-options',
];

/**
 * RFC 9110 §13.1.2 as an origin server evaluates it (weak comparison). Not koa's `ctx.fresh`: that
 * answers "stale" whenever the request also says `Cache-Control: no-cache`, which fetch() adds to
 * every conditional request, and that directive is for caches on the way, not for the origin.
 */
export function matchesIfNoneMatch(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

export interface PublishedDocumentsOptions {
  /** Changes whenever the published keys change. */
  keysVersion: () => string;
  /** Whether discovery lists the token-exchange grant now (a cached answer: this runs per request). */
  exchangeAdvertised: () => Promise<boolean>;
  /** The signing-key publish lead: a JWKS cached for at most half of it still names the next key in time. */
  publishLeadSeconds: number;
}

export function publishedDocuments(options: PublishedDocumentsOptions): PublishedDocuments {
  const jwksMaxAge = Math.min(300, Math.floor(options.publishLeadSeconds / 2));
  const cacheControl: Record<string, string> = {
    discovery: 'public, max-age=300',
    jwks: jwksMaxAge > 0 ? `public, max-age=${jwksMaxAge}` : 'no-cache',
  };
  const stored = new Map<string, Stored>();
  const documentOf = (path: string): 'discovery' | 'jwks' | undefined =>
    path === PROVIDER_ROUTES.jwks ? 'jwks' : DISCOVERY_PATHS.includes(path) ? 'discovery' : undefined;
  const versionOf = async (document: 'discovery' | 'jwks') =>
    document === 'jwks'
      ? options.keysVersion()
      : `${options.keysVersion()}:${await options.exchangeAdvertised().catch(() => true)}`;

  const documentAsked = (ctx: Context) =>
    ctx.method === 'GET' || ctx.method === 'HEAD' ? documentOf(ctx.path) : undefined;

  async function answerFromMemory(ctx: Context): Promise<boolean> {
    const document = documentAsked(ctx);
    const known = document && stored.get(ctx.path);
    if (!known || known.version !== (await versionOf(document))) return false;
    ctx.status = 200;
    for (const [name, value] of Object.entries(known.headers)) ctx.set(name, value);
    ctx.set('ETag', known.etag);
    ctx.set('Cache-Control', cacheControl[document]!);
    if (matchesIfNoneMatch(ctx.get('if-none-match'), known.etag)) ctx.status = 304;
    else ctx.body = known.body;
    return true;
  }

  return {
    answerFromMemory,
    async build(ctx, next) {
      const document = documentAsked(ctx);
      if (!document) {
        await next();
        return;
      }
      const pending: Pending = { version: await versionOf(document) };
      (ctx.req as Tagged)[PENDING] = pending;
      await next();
      if (pending.stored) stored.set(ctx.path, pending.stored);
    },
    async capture(ctx, next) {
      await next();
      const pending = (ctx.req as Tagged)[PENDING];
      const document = documentOf(ctx.path);
      if (!pending || !document || ctx.status !== 200 || ctx.body === undefined) return;
      const body = Buffer.from(typeof ctx.body === 'string' ? ctx.body : JSON.stringify(ctx.body));
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      const headers: Record<string, string> = {};
      for (const name of DOCUMENT_HEADERS) {
        const value = ctx.response.get(name);
        if (value) headers[name] = value;
      }
      pending.stored = { version: pending.version, body, etag, headers };
      ctx.body = body;
      ctx.set('ETag', etag);
      ctx.set('Cache-Control', cacheControl[document]!);
    },
  };
}
