import type { Middleware } from 'koa';
import type { PageRenderer } from '../pages/page-renderer.ts';
import { envelope, type RequestState } from '../../shared/http/request-context.ts';

/** Whether a request's host (koa's `ctx.host`: the Host header, or the trusted proxy's) is the issuer's. */
export type HostCheck = (host: string) => boolean;

/**
 * The hosts the issuer answers for: ISSUER_URL's, and ISSUER_INTERNAL_URL's where resource servers
 * reach it inside a private network. Every request asks this, so the answers for the few spellings
 * a deployment sees are kept and the URL parser runs once per spelling; a flood of made-up hosts
 * cannot grow the memo past its bound.
 */
export function issuerHosts(issuerUrl: string, internalUrl?: string): HostCheck {
  const { protocol, host: own } = new URL(issuerUrl);
  const accepted = new Set([own, ...(internalUrl ? [new URL(internalUrl).host] : [])]);
  const answerOf = (host: string) =>
    URL.canParse(`${protocol}//${host}`) && accepted.has(new URL(`${protocol}//${host}`).host);
  const answers = new Map<string, boolean>();
  return (host) => {
    if (!host) return false;
    let answer = answers.get(host);
    if (answer === undefined) {
      answer = answerOf(host);
      if (answers.size < 64) answers.set(host, answer);
    }
    return answer;
  };
}

/**
 * A request for any other host than the issuer's is refused with 421 Misdirected Request before
 * anything reads it, so no response can be cached under a host an attacker chose. (What the
 * provider publishes never depends on the host anyway: it is handed ISSUER_URL's.) Health probes,
 * which arrive by address, are answered before this runs.
 */
export function canonicalHost(
  issuerUrl: string,
  isIssuerHost: HostCheck,
  pages: PageRenderer,
): Middleware<RequestState> {
  const { origin } = new URL(issuerUrl);
  return async (ctx, next) => {
    if (isIssuerHost(ctx.host)) {
      await next();
      return;
    }
    const message = `This server answers only at ${origin}.`;
    if (ctx.accepts('json', 'html') === 'html') {
      pages.render(
        ctx,
        'message',
        { title: 'Wrong address', paragraphs: [message], link: { href: origin, text: origin } },
        421,
      );
      return;
    }
    ctx.status = 421;
    ctx.body = envelope('misdirected_request', message, ctx.state.requestId);
  };
}
