import type { Middleware, ParameterizedContext } from 'koa';
import type { Cache } from '../../shared/cache/cache.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { isDependencyFailure, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../../shared/resilience/dependency-failure.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import type { apiTokenUserinfo } from './api-token-userinfo.ts';
import type { UserCodeGuessLimit } from './device-flow.ts';
import { DISCOVERY_PATHS, PROVIDER_ROUTES } from './provider-configuration.ts';
import { tagRequestId, type ProviderHost } from './provider-host.ts';
import { forProvider, readTokenRequest, type TokenRequest } from './token-request.ts';

type Context = ParameterizedContext<RequestState>;

/** A step before the provider: true when it has answered the request itself. */
type GateStep = (ctx: Context) => Promise<boolean>;
/** A step on a parsed POST /token: true when it has answered; it may rewrite the form. */
export type TokenStep = (request: TokenRequest) => Promise<boolean>;

export interface ProviderGateOptions {
  host: ProviderHost;
  pages: PageRenderer;
  cache: Cache;
  userCodeGuesses: UserCodeGuessLimit;
  /** Userinfo for our APIs' JWT access tokens (the provider answers its own opaque ones). */
  apiTokenUserinfo: ReturnType<typeof apiTokenUserinfo>;
  /** Failed client authentications allowed per client IP in the window, across clients. */
  clientAuthFailures: { max: number; windowSeconds: number };
  /** The steps on a token request, in order (the refresh grace, the device polling throttle). */
  tokenSteps: TokenStep[];
  /** A device page refused to check a user code (too many wrong ones): for the metrics. */
  onUserCodeGuessRefused?: () => void;
}

/** The routes oidc-provider serves paths under: /auth/:uid, /session/end/confirm and /success, /device/:uid. */
const ROUTES_WITH_SUBPATHS = [
  PROVIDER_ROUTES.authorization,
  PROVIDER_ROUTES.end_session,
  PROVIDER_ROUTES.code_verification,
];
const EXACT_PATHS = new Set<string>([...DISCOVERY_PATHS, ...Object.values(PROVIDER_ROUTES)]);

/** The provider's paths, from its configured routes; every other path stays ours. */
export function isProviderPath(path: string): boolean {
  return EXACT_PATHS.has(path) || ROUTES_WITH_SUBPATHS.some((route) => path.startsWith(`${route}/`));
}

/** The endpoints where a client authenticates with its secret. */
const CLIENT_AUTH_PATHS = new Set<string>([
  PROVIDER_ROUTES.token,
  PROVIDER_ROUTES.introspection,
  PROVIDER_ROUTES.revocation,
]);

const oauthError = (ctx: Context, status: number, error: string, description: string, retryAfterSeconds?: number) => {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (retryAfterSeconds !== undefined) ctx.set('Retry-After', String(retryAfterSeconds));
  ctx.body = { error, error_description: description };
};

/** The device page stops checking codes for a browser or address that guessed too often. */
function limitUserCodeGuesses(guesses: UserCodeGuessLimit, pages: PageRenderer, onRefused = () => {}): GateStep {
  return async (ctx) => {
    if (ctx.method !== 'POST' || ctx.path !== PROVIDER_ROUTES.code_verification) return false;
    const retryAfter = await guesses.limitedFor(ctx.get('cookie'), ctx.ip);
    if (retryAfter === undefined) return false;
    onRefused();
    ctx.set('Retry-After', String(retryAfter));
    const words = 'Too many wrong codes were entered. Wait a while, then enter the code shown on your device again.';
    pages.render(ctx, 'message', { title: 'Too many attempts', paragraphs: [words] }, 429);
    return true;
  };
}

/** Guessing client secrets from one address stops after the budget, before any secret is compared. */
function clientAuthBudget(cache: Cache, budget: { max: number; windowSeconds: number }) {
  const failureKey = (ip: string) => `client-auth-failures:${ip}`;
  const spent: GateStep = async (ctx) => {
    if (ctx.method !== 'POST' || !CLIENT_AUTH_PATHS.has(ctx.path)) return false;
    if (Number((await cache.get(failureKey(ctx.ip))) ?? 0) < budget.max) return false;
    const left = (await cache.ttl(failureKey(ctx.ip))) ?? budget.windowSeconds;
    const description = 'too many failed client authentications from this address; try again later';
    oauthError(ctx, 429, 'invalid_request', description, Math.max(1, left));
    return true;
  };
  const countFailure = async (ctx: Context) => {
    if (CLIENT_AUTH_PATHS.has(ctx.path) && ctx.res.statusCode === 401)
      await cache.increment(failureKey(ctx.ip), budget.windowSeconds);
  };
  return { spent, countFailure };
}

/** /me with one of our APIs' JWTs (the provider knows only its own opaque tokens). */
function answerUserinfoForApiTokens(userinfo: ProviderGateOptions['apiTokenUserinfo']): GateStep {
  return async (ctx) => {
    if (ctx.path !== PROVIDER_ROUTES.userinfo || (ctx.method !== 'GET' && ctx.method !== 'POST')) return false;
    const answer = await userinfo(ctx.get('authorization') || undefined);
    if (!answer) return false;
    ctx.status = answer.status;
    ctx.set('Cache-Control', 'no-store');
    if (answer.challenge) ctx.set('WWW-Authenticate', answer.challenge);
    ctx.body = answer.body;
    return true;
  };
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
  const description = 'the server is briefly unable to handle the request; try again in a few seconds';
  oauthError(ctx, 503, 'temporarily_unavailable', description, UNAVAILABLE_RETRY_AFTER_SECONDS);
}

/**
 * The steps before and around oidc-provider, in order:
 * 1. limitUserCodeGuesses: the device page stops checking codes for a browser or address that guessed too often;
 * 2. clientAuthBudget: an address that failed client authentication too often is refused before any secret is compared;
 * 3. answerUserinfoForApiTokens: /me with one of our APIs' JWTs;
 * 4. on POST /token, the token steps (refresh grace, device polling throttle) on the parsed request;
 * 5. handToProvider, then the client-authentication failure counted.
 * Once a step has failed, the request still gets an answer: nothing here leaves a socket open or
 * turns into a stack trace.
 */
export function providerGate(options: ProviderGateOptions): Middleware<RequestState> {
  const { host, pages, cache, userCodeGuesses, apiTokenUserinfo, clientAuthFailures, tokenSteps } = options;
  const budget = clientAuthBudget(cache, clientAuthFailures);
  const steps: GateStep[] = [
    limitUserCodeGuesses(userCodeGuesses, pages, options.onUserCodeGuessRefused),
    budget.spent,
    answerUserinfoForApiTokens(apiTokenUserinfo),
  ];

  /** The provider writes the response itself from here; a token request first goes through its steps. */
  async function handToProvider(ctx: Context): Promise<void> {
    ctx.respond = false;
    let req = ctx.req;
    if (ctx.method === 'POST' && ctx.path === PROVIDER_ROUTES.token) {
      const request = await readTokenRequest(ctx.req, ctx.res);
      if (!request) return;
      for (const step of tokenSteps) if (await step(request)) return;
      req = forProvider(request);
    }
    await host.handle(tagRequestId(req, ctx.state.requestId), ctx.res, ctx.ip);
    await budget.countFailure(ctx);
  }

  return async function providerGateway(ctx, next) {
    if (!isProviderPath(ctx.path)) {
      await next();
      return;
    }
    for (const step of steps) if (await step(ctx)) return;
    try {
      await handToProvider(ctx);
    } catch (error) {
      answerFailure(ctx, error);
    }
  };
}
