import type { Context, Middleware } from 'koa';
import type { PageRenderer } from '../pages/page-renderer.ts';
import { envelope, type RequestState } from '../../shared/http/request-context.ts';

/**
 * The issuer answers only for the host of ISSUER_URL (as the client, or the trusted proxy, names
 * it), and for the host of ISSUER_INTERNAL_URL where resource servers reach it inside a private
 * network. A request for any other host is refused with 421 Misdirected Request before anything
 * reads it, so no response can be cached under a host an attacker chose. (What the provider
 * publishes never depends on the host anyway: it is handed ISSUER_URL's.) Health probes, which
 * arrive by address, are answered before this runs.
 */
export function canonicalHost(issuerUrl: string, pages: PageRenderer, internalUrl?: string): Middleware<RequestState> {
  const issuer = new URL(issuerUrl);
  const accepted = new Set([issuer.host, ...(internalUrl ? [new URL(internalUrl).host] : [])]);
  const sameHost = (ctx: Context) => {
    if (!ctx.host || !URL.canParse(`${issuer.protocol}//${ctx.host}`)) return false;
    return accepted.has(new URL(`${issuer.protocol}//${ctx.host}`).host);
  };
  return async (ctx, next) => {
    if (sameHost(ctx)) {
      await next();
      return;
    }
    const message = `This server answers only at ${issuer.origin}.`;
    if (ctx.accepts('json', 'html') === 'html') {
      pages.render(
        ctx,
        'message',
        { title: 'Wrong address', paragraphs: [message], link: { href: issuer.origin, text: issuer.origin } },
        421,
      );
      return;
    }
    ctx.status = 421;
    ctx.body = envelope('misdirected_request', message, ctx.state.requestId);
  };
}
