import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Middleware, ParameterizedContext } from 'koa';
import type { Cache } from '../cache/cache.ts';
import { isCanonicalCompactJws } from '../crypto/compact-jws.ts';
import { AppError } from '../http/errors.ts';
import type { RequestState } from '../http/request-context.ts';
import { actorFromClaims, type Actor } from './actor.ts';
import { DPOP_ALGORITHMS, DpopError, verifyDpopProof } from './dpop.ts';

export interface AuthenticatedState extends RequestState {
  actor: Actor;
}

/** A resource server as its callers see it: what its tokens name, its realm, where it answers. */
export interface ProtectedResource {
  /** Its resource identifier: tokens must name it in `aud`. */
  audience: string;
  /** The realm its challenges name. */
  realm: string;
  /** Its public URL, before the request path: DPoP proofs name `baseUrl + path` as `htu`. */
  baseUrl: string;
  /** Its RFC 9728 metadata, offered in challenges. */
  metadataUrl: string;
}

/** A resource server whose identifier is its URL, as the task API's is. */
export const resourceAt = (url: string, realm: string): ProtectedResource => ({
  audience: url,
  realm,
  baseUrl: url,
  metadataUrl: `${url}/.well-known/oauth-protected-resource`,
});

export interface AuthenticateOptions {
  issuer: string;
  resource: ProtectedResource;
  keys: JWTVerifyGetKey;
  replayCache: Cache;
  /** The issuer signs access tokens with ES256 only; nothing else is accepted (no `none`, no HS*). */
  algorithms?: string[];
}

/** RFC 6750 / RFC 9449 challenges, offering both schemes, with the error when there is one. */
export function challenge(
  resource: ProtectedResource,
  error?: { code: string; description: string; scheme?: 'Bearer' | 'DPoP'; extra?: Record<string, string> },
): string {
  const quoted = (value: string) => `"${value.replace(/["\\]/g, '')}"`;
  const params = (scheme: 'Bearer' | 'DPoP') => {
    const parts = [`realm=${quoted(resource.realm)}`];
    if (scheme === 'DPoP') parts.push(`algs=${quoted(DPOP_ALGORITHMS.join(' '))}`);
    if (scheme === 'Bearer') parts.push(`resource_metadata=${quoted(resource.metadataUrl)}`);
    if (error && (error.scheme ?? 'Bearer') === scheme) {
      parts.push(`error=${quoted(error.code)}`, `error_description=${quoted(error.description)}`);
      for (const [key, value] of Object.entries(error.extra ?? {})) parts.push(`${key}=${quoted(value)}`);
    }
    return `${scheme} ${parts.join(', ')}`;
  };
  return `${params('Bearer')}, ${params('DPoP')}`;
}

export function unauthorized(
  resource: ProtectedResource,
  code: string,
  description: string,
  scheme: 'Bearer' | 'DPoP' = 'Bearer',
  extra?: Record<string, string>,
): AppError {
  return new AppError(401, code, description, {
    'WWW-Authenticate': challenge(resource, { code, description, scheme, extra }),
  });
}

/** 403 for a token without the scope an action needs, naming it in the challenge (RFC 6750 §3.1). */
export function insufficientScope(resource: ProtectedResource, scope: string): AppError {
  const description = `This needs the ${scope} scope.`;
  return new AppError(403, 'insufficient_scope', description, {
    'WWW-Authenticate': challenge(resource, { code: 'insufficient_scope', description, extra: { scope } }),
  });
}

/** 401 asking a person to sign in again with a second factor (RFC 9470), no older than `maxAgeSeconds`. */
export function stepUpRequired(resource: ProtectedResource, maxAgeSeconds: number): AppError {
  return unauthorized(
    resource,
    'insufficient_user_authentication',
    'Sign in again with your second factor to do this.',
    'Bearer',
    { max_age: String(maxAgeSeconds) },
  );
}

type Scheme = 'Bearer' | 'DPoP';
type Context = ParameterizedContext<RequestState>;

/** Step 1: the Authorization header, as a scheme and a token. */
function readAuthorization(ctx: Context, resource: ProtectedResource): { scheme: Scheme; token: string } {
  const authorization = ctx.get('authorization');
  if (!authorization)
    throw new AppError(401, 'unauthorized', 'An access token is required.', {
      'WWW-Authenticate': challenge(resource),
    });
  const match = /^(Bearer|DPoP) ([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization);
  if (!match)
    throw unauthorized(
      resource,
      'invalid_request',
      'The Authorization header must be "Bearer <token>" or "DPoP <token>".',
    );
  return { scheme: match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2]! };
}

/** Step 2: a JWT access token (RFC 9068) from our issuer, for this API, unexpired, in its one canonical spelling. */
async function verifyAccessToken(ctx: Context, token: string, scheme: Scheme, options: AuthenticateOptions) {
  const { issuer, resource, keys, algorithms = ['ES256'] } = options;
  const { audience } = resource;
  // One token, one spelling: no padding, no stray bits, no high-s twin of an ES256 signature.
  if (!isCanonicalCompactJws(token))
    throw unauthorized(resource, 'invalid_token', 'The access token is not valid.', scheme);
  try {
    const requiredClaims = ['exp', 'iat', 'sub', 'client_id', 'jti'];
    return (
      await jwtVerify(token, keys, { issuer, audience, typ: 'at+jwt', algorithms, clockTolerance: 30, requiredClaims })
    ).payload;
  } catch (error) {
    const description =
      error instanceof joseErrors.JWTExpired
        ? 'The access token has expired.'
        : error instanceof joseErrors.JWTClaimValidationFailed
          ? 'The access token is not for this API or not yet valid.'
          : 'The access token is not valid.';
    if (!(error instanceof joseErrors.JOSEError))
      ctx.state.log.warn(
        { errMessage: (error as Error).message },
        'could not verify an access token (issuer keys unavailable?)',
      );
    throw unauthorized(resource, 'invalid_token', description, scheme);
  }
}

/** Step 3: a key-bound token comes with the DPoP scheme and a fresh proof (RFC 9449); an unbound one never does. */
async function checkProofOfPossession(
  ctx: Context,
  token: string,
  scheme: Scheme,
  jkt: unknown,
  options: AuthenticateOptions,
) {
  const { resource, replayCache } = options;
  if (typeof jkt !== 'string') {
    if (scheme === 'DPoP')
      throw unauthorized(
        resource,
        'invalid_token',
        'This access token is not bound to a key: send it with the Bearer scheme.',
        'DPoP',
      );
    return;
  }
  if (scheme !== 'DPoP')
    throw unauthorized(
      resource,
      'invalid_token',
      'This access token is bound to a key: send it with the DPoP scheme and a proof.',
      'DPoP',
    );
  const proof = {
    proof: ctx.get('dpop') || undefined,
    accessToken: token,
    thumbprint: jkt,
    method: ctx.method,
    url: `${resource.baseUrl}${ctx.path}`,
  };
  try {
    await verifyDpopProof(proof, replayCache);
  } catch (error) {
    if (error instanceof DpopError) throw unauthorized(resource, 'invalid_dpop_proof', error.message, 'DPoP');
    throw error;
  }
}

/**
 * Verifies the access token of every request and puts the actor it describes in `ctx.state.actor`.
 * Anything short of a valid, unexpired token for this API from our issuer is a 401 that never echoes
 * the token back.
 */
export function authenticate(options: AuthenticateOptions): Middleware<AuthenticatedState> {
  return async (ctx, next) => {
    const { scheme, token } = readAuthorization(ctx, options.resource);
    const payload = await verifyAccessToken(ctx, token, scheme, options);
    await checkProofOfPossession(ctx, token, scheme, (payload.cnf as { jkt?: unknown } | undefined)?.jkt, options);
    const actor = actorFromClaims(payload);
    if (!actor)
      throw unauthorized(options.resource, 'invalid_token', 'The access token does not describe a caller.', scheme);
    ctx.state.actor = actor;
    // Who acted for whom, on every log line of a delegated request (the access line included).
    if (actor.kind === 'user' && actor.act)
      ctx.state.log = ctx.state.log.child({ onBehalfOf: actor.sub, actingClient: actor.act.clientId, act: actor.act });
    await next();
  };
}
