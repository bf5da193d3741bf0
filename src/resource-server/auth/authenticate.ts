import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Middleware, ParameterizedContext } from 'koa';
import type { Cache } from '../../shared/cache/cache.ts';
import { isCanonicalCompactJws } from '../../shared/crypto/compact-jws.ts';
import { AppError } from '../../shared/http/errors.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { actorFromClaims, type Actor } from './actor.ts';
import { DPOP_ALGORITHMS, DpopError, verifyDpopProof } from './dpop.ts';

export interface AuthenticatedState extends RequestState {
  actor: Actor;
}

export interface AuthenticateOptions {
  issuer: string;
  /** This API's resource identifier: tokens must name it in `aud`. */
  audience: string;
  keys: JWTVerifyGetKey;
  replayCache: Cache;
  /** The issuer signs access tokens with ES256 only; nothing else is accepted (no `none`, no HS*). */
  algorithms?: string[];
}

const REALM = 'task-api';

/** RFC 6750 / RFC 9449 challenges, offering both schemes, with the error when there is one. */
export function challenge(
  audience: string,
  error?: { code: string; description: string; scheme?: 'Bearer' | 'DPoP'; extra?: Record<string, string> },
): string {
  const quoted = (value: string) => `"${value.replace(/["\\]/g, '')}"`;
  const params = (scheme: 'Bearer' | 'DPoP') => {
    const parts = [`realm=${quoted(REALM)}`];
    if (scheme === 'DPoP') parts.push(`algs=${quoted(DPOP_ALGORITHMS.join(' '))}`);
    if (scheme === 'Bearer')
      parts.push(`resource_metadata=${quoted(`${audience}/.well-known/oauth-protected-resource`)}`);
    if (error && (error.scheme ?? 'Bearer') === scheme) {
      parts.push(`error=${quoted(error.code)}`, `error_description=${quoted(error.description)}`);
      for (const [key, value] of Object.entries(error.extra ?? {})) parts.push(`${key}=${quoted(value)}`);
    }
    return `${scheme} ${parts.join(', ')}`;
  };
  return `${params('Bearer')}, ${params('DPoP')}`;
}

export function unauthorized(
  audience: string,
  code: string,
  description: string,
  scheme: 'Bearer' | 'DPoP' = 'Bearer',
  extra?: Record<string, string>,
): AppError {
  return new AppError(401, code, description, {
    'WWW-Authenticate': challenge(audience, { code, description, scheme, extra }),
  });
}

type Scheme = 'Bearer' | 'DPoP';
type Context = ParameterizedContext<RequestState>;

/** Step 1: the Authorization header, as a scheme and a token. */
function readAuthorization(ctx: Context, audience: string): { scheme: Scheme; token: string } {
  const authorization = ctx.get('authorization');
  if (!authorization)
    throw new AppError(401, 'unauthorized', 'An access token is required.', {
      'WWW-Authenticate': challenge(audience),
    });
  const match = /^(Bearer|DPoP) ([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization);
  if (!match)
    throw unauthorized(
      audience,
      'invalid_request',
      'The Authorization header must be "Bearer <token>" or "DPoP <token>".',
    );
  return { scheme: match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2]! };
}

/** Step 2: a JWT access token (RFC 9068) from our issuer, for this API, unexpired, in its one canonical spelling. */
async function verifyAccessToken(ctx: Context, token: string, scheme: Scheme, options: AuthenticateOptions) {
  const { issuer, audience, keys, algorithms = ['ES256'] } = options;
  // One token, one spelling: no padding, no stray bits, no high-s twin of an ES256 signature.
  if (!isCanonicalCompactJws(token))
    throw unauthorized(audience, 'invalid_token', 'The access token is not valid.', scheme);
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
    throw unauthorized(audience, 'invalid_token', description, scheme);
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
  const { audience, replayCache } = options;
  if (typeof jkt !== 'string') {
    if (scheme === 'DPoP')
      throw unauthorized(
        audience,
        'invalid_token',
        'This access token is not bound to a key: send it with the Bearer scheme.',
        'DPoP',
      );
    return;
  }
  if (scheme !== 'DPoP')
    throw unauthorized(
      audience,
      'invalid_token',
      'This access token is bound to a key: send it with the DPoP scheme and a proof.',
      'DPoP',
    );
  const proof = {
    proof: ctx.get('dpop') || undefined,
    accessToken: token,
    thumbprint: jkt,
    method: ctx.method,
    url: `${audience}${ctx.path}`,
  };
  try {
    await verifyDpopProof(proof, replayCache);
  } catch (error) {
    if (error instanceof DpopError) throw unauthorized(audience, 'invalid_dpop_proof', error.message, 'DPoP');
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
    const { scheme, token } = readAuthorization(ctx, options.audience);
    const payload = await verifyAccessToken(ctx, token, scheme, options);
    await checkProofOfPossession(ctx, token, scheme, (payload.cnf as { jkt?: unknown } | undefined)?.jkt, options);
    const actor = actorFromClaims(payload);
    if (!actor)
      throw unauthorized(options.audience, 'invalid_token', 'The access token does not describe a caller.', scheme);
    ctx.state.actor = actor;
    await next();
  };
}
