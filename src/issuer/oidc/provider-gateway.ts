import type { Middleware, ParameterizedContext } from 'koa';
import type { Cache } from '../../shared/cache/cache.ts';
import { isDependencyFailure, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../../shared/resilience/dependency-failure.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import type { apiTokenUserinfo } from './api-token-userinfo.ts';
import type { UserCodeGuard } from './device-flow.ts';
import { tagRequestId, type ProviderHost } from './provider-host.ts';
import type { TokenRequestPolicy } from './token-request-policy.ts';

type Context = ParameterizedContext<RequestState>;

/** oidc-provider's routes (its defaults): discovery, authorize, token and its siblings, JWKS, userinfo, logout, device, PAR. */
const PROVIDER_PATHS =
  /^\/(?:\.well-known\/(?:openid-configuration|oauth-authorization-server)|auth(?:\/[^/]+)*|token(?:\/introspection|\/revocation)?|jwks|me|session\/end(?:\/[^/]+)*|device(?:\/[^/]+)*|request)$/;
/** The endpoints where a client authenticates with its secret. */
const CLIENT_AUTH_PATHS = new Set(['/token', '/token/introspection', '/token/revocation']);

export interface ProviderGatewayOptions {
  host: ProviderHost;
  tokenPolicy: TokenRequestPolicy;
  guard: UserCodeGuard;
  pages: PageRenderer;
  cache: Cache;
  /** Userinfo for our APIs' JWT access tokens (the provider answers its own opaque ones). */
  apiTokenUserinfo: ReturnType<typeof apiTokenUserinfo>;
  /** Failed client authentications allowed per client IP in the window, across clients. */
  clientAuthFailures: { max: number; windowSeconds: number };
}

const oauthError = (ctx: Context, status: number, error: string, description: string, retryAfterSeconds?: number) => {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (retryAfterSeconds !== undefined) ctx.set('Retry-After', String(retryAfterSeconds));
  ctx.body = { error, error_description: description };
};

/**
 * The steps before and around oidc-provider, in order: the device page's guessing limit, the
 * per-IP budget for failed client authentication, the token-request policies, then the provider
 * itself. Once a step has failed, the request still gets an answer: nothing here leaves a socket
 * open or turns into a stack trace.
 */
export function providerGateway({
  host,
  tokenPolicy,
  guard,
  pages,
  cache,
  apiTokenUserinfo,
  clientAuthFailures,
}: ProviderGatewayOptions): Middleware<RequestState> {
  const failureKey = (ip: string) => `client-auth-failures:${ip}`;

  async function deviceGuessLimit(ctx: Context): Promise<boolean> {
    if (ctx.method !== 'POST' || ctx.path !== '/device') return false;
    const retryAfter = await guard.limitedFor(ctx.get('cookie'), ctx.ip);
    if (retryAfter === undefined) return false;
    ctx.set('Retry-After', String(retryAfter));
    pages.render(
      ctx,
      'message',
      {
        title: 'Too many attempts',
        paragraphs: [
          'Too many wrong codes were entered. Wait a while, then enter the code shown on your device again.',
        ],
      },
      429,
    );
    return true;
  }

  /** Guessing client secrets from one address stops after the budget, before any secret is compared. */
  async function clientAuthBudgetSpent(ctx: Context): Promise<boolean> {
    if (ctx.method !== 'POST' || !CLIENT_AUTH_PATHS.has(ctx.path)) return false;
    if (Number((await cache.get(failureKey(ctx.ip))) ?? 0) < clientAuthFailures.max) return false;
    const left = (await cache.ttl(failureKey(ctx.ip))) ?? clientAuthFailures.windowSeconds;
    oauthError(
      ctx,
      429,
      'invalid_request',
      'too many failed client authentications from this address; try again later',
      Math.max(1, left),
    );
    return true;
  }

  async function countClientAuthFailure(ctx: Context): Promise<void> {
    if (CLIENT_AUTH_PATHS.has(ctx.path) && ctx.res.statusCode === 401)
      await cache.increment(failureKey(ctx.ip), clientAuthFailures.windowSeconds);
  }

  /** A failure before the provider answered: malformed input is the client's error, anything else a dependency's. */
  function answerFailure(ctx: Context, error: unknown): void {
    if (ctx.res.headersSent) {
      ctx.state.log.error({ err: error }, 'request failed after its response started');
      ctx.res.destroy();
      return;
    }
    ctx.respond = true;
    if (error instanceof URIError || error instanceof SyntaxError) {
      oauthError(ctx, 400, 'invalid_request', 'the request could not be understood');
      return;
    }
    if (isDependencyFailure(error)) ctx.state.log.warn({ err: error }, 'a dependency is unavailable; answered 503');
    else ctx.state.log.error({ err: error }, 'the issuer could not complete a protocol request');
    oauthError(
      ctx,
      503,
      'temporarily_unavailable',
      'the server is briefly unable to handle the request; try again in a few seconds',
      UNAVAILABLE_RETRY_AFTER_SECONDS,
    );
  }

  return async function handOverToProvider(ctx, next) {
    if (!PROVIDER_PATHS.test(ctx.path)) {
      await next();
      return;
    }
    if ((await deviceGuessLimit(ctx)) || (await clientAuthBudgetSpent(ctx))) return;
    if (ctx.path === '/me' && (ctx.method === 'GET' || ctx.method === 'POST')) {
      const answer = await apiTokenUserinfo(ctx.get('authorization') || undefined);
      if (answer) {
        ctx.status = answer.status;
        ctx.set('Cache-Control', 'no-store');
        if (answer.challenge) ctx.set('WWW-Authenticate', answer.challenge);
        ctx.body = answer.body;
        return;
      }
    }
    // From here the provider writes the response itself; koa must not.
    ctx.respond = false;
    try {
      let req = ctx.req;
      if (ctx.method === 'POST' && ctx.path === '/token') {
        const applied = await tokenPolicy.apply(ctx.req, ctx.res);
        if (!applied) return;
        req = applied;
      }
      await host.handle(tagRequestId(req, ctx.state.requestId), ctx.res, ctx.ip);
      await countClientAuthFailure(ctx);
    } catch (error) {
      answerFailure(ctx, error);
    }
  };
}
