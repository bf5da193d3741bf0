import { createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Account } from '../../accounts/accounts.ts';
import { PROFILE_CLAIMS } from '../../accounts/profile.ts';
import { isCanonicalCompactJws } from '../../shared/crypto/compact-jws.ts';

/** Which ID-token and userinfo claims each OpenID scope releases (the provider's `claims` setting). */
export const SCOPE_CLAIMS: Record<string, string[]> = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: PROFILE_CLAIMS,
};
/** Claims every ID token carries whatever is asked: no `claims` request needs granting them. */
const ALWAYS_RELEASED = new Set(['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss']);

/**
 * The claims a `claims` request parameter (OIDC Core 5.5) names, split into those the client may have
 * (released by an OpenID scope it is registered with) and the rest, which it never gets.
 */
export function requestableClaims(
  clientScope: string | undefined,
  requested: Iterable<string>,
): { allowed: string[]; refused: string[] } {
  const registered = new Set((clientScope ?? '').split(' '));
  const mayHave = new Set(
    Object.entries(SCOPE_CLAIMS).flatMap(([scope, claims]) => (registered.has(scope) ? claims : [])),
  );
  const asked = [...new Set(requested)].filter((claim) => !ALWAYS_RELEASED.has(claim));
  return {
    allowed: asked.filter((claim) => mayHave.has(claim)),
    refused: asked.filter((claim) => !mayHave.has(claim)),
  };
}

/** The private claim that carries, in an API's access token, the OpenID scopes of the same request. */
const OIDC_SCOPE_CLAIM = 'oidc_scope';
const OIDC_SCOPE_NAMES = new Set(Object.keys(SCOPE_CLAIMS));

/**
 * Makes an API's access token usable at userinfo, as Auth0 does: when the request that produced it
 * also asked for `openid`, the token's `aud` names the userinfo endpoint beside the API, and it
 * carries the OpenID scopes granted (oidc-provider puts only the API's scopes in `scope`). A
 * client then needs one access token, as openid-client's fetchUserInfo and oidc-client-ts expect.
 * For oidc-provider's `formats.customizers.jwt`.
 */
export function addUserinfoAudience(
  ctx: KoaContextWithOIDC,
  payload: Record<string, unknown>,
  userinfoUrl: string,
): void {
  const entities = ctx.oidc.entities as Record<string, { scope?: string } | undefined>;
  const source = entities.AuthorizationCode ?? entities.RefreshToken ?? entities.DeviceCode;
  const oidcScopes = (source?.scope ?? '').split(' ').filter((scope) => OIDC_SCOPE_NAMES.has(scope));
  if (!oidcScopes.includes('openid') || typeof payload.sub !== 'string' || payload.sub.startsWith('client:')) return;
  const audiences: unknown[] = Array.isArray(payload.aud)
    ? (payload.aud as unknown[])
    : payload.aud === undefined
      ? []
      : [payload.aud];
  payload.aud = [...audiences, userinfoUrl];
  payload[OIDC_SCOPE_CLAIM] = oidcScopes.join(' ');
}

export interface ApiTokenUserinfoOptions {
  issuerUrl: string;
  /** The public keys the issuer signs with now (and still publishes). */
  publicKeys: () => JWK[];
  findAccount: (id: string) => Promise<Account | undefined>;
}

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg', 'use'] as const;
const publicPart = (jwk: JWK): JWK =>
  Object.fromEntries(
    PUBLIC_MEMBERS.filter((member) => jwk[member] !== undefined).map((member) => [member, jwk[member]]),
  );

/**
 * The issuer's own signing keys as a verifier's key set, for the tokens it verifies itself (userinfo,
 * the admin API): no HTTP round trip to its own JWKS. The set changes only when the provider reloads
 * its keys (a new array), so the verifier is built once per set.
 */
export function ownKeySet(publicKeys: () => JWK[]): () => ReturnType<typeof createLocalJWKSet> {
  let keysSeen: JWK[] | undefined;
  let verifierKeys: ReturnType<typeof createLocalJWKSet> | undefined;
  return () => {
    const keys = publicKeys();
    if (keys !== keysSeen || !verifierKeys) {
      keysSeen = keys;
      verifierKeys = createLocalJWKSet({ keys: keys.map(publicPart) });
    }
    return verifierKeys;
  };
}

/**
 * Userinfo for the JWT access tokens of our APIs (oidc-provider's userinfo reads only its own opaque
 * tokens, and refuses any token with an audience). Answers `undefined` for a request it does not
 * handle (no bearer JWT), so the provider's userinfo takes it; otherwise the claims, or an error.
 */
export function apiTokenUserinfo({ issuerUrl, publicKeys, findAccount }: ApiTokenUserinfoOptions) {
  const userinfoUrl = `${issuerUrl}/me`;
  // The key set changes only when the provider reloads its keys (a new array); build the verifier once per set.
  let keysSeen: JWK[] | undefined;
  let verifierKeys: ReturnType<typeof createLocalJWKSet> | undefined;
  const currentKeys = () => {
    const keys = publicKeys();
    if (keys !== keysSeen || !verifierKeys) {
      keysSeen = keys;
      verifierKeys = createLocalJWKSet({ keys: keys.map(publicPart) });
    }
    return verifierKeys;
  };
  return async (
    authorization: string | undefined,
  ): Promise<{ status: number; body: Record<string, unknown>; challenge?: string } | undefined> => {
    const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization ?? '');
    if (!match) return undefined;
    const token = match[1]!;
    const invalid = (description: string) => ({
      status: 401,
      body: { error: 'invalid_token', error_description: description },
      challenge: `Bearer realm="${issuerUrl}", error="invalid_token"`,
    });
    if (!isCanonicalCompactJws(token)) return invalid('the access token is not valid');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, currentKeys(), {
        issuer: issuerUrl,
        audience: userinfoUrl,
        typ: 'at+jwt',
        algorithms: ['ES256', 'RS256'],
        requiredClaims: ['sub', 'exp'],
      }));
    } catch {
      return invalid('the access token is not valid for userinfo');
    }
    if (payload.cnf)
      return invalid(
        'a DPoP-bound API token cannot be used at userinfo; use the opaque access token of an openid-only request',
      );
    const account = await findAccount(String(payload.sub));
    if (!account) return invalid('the access token is not valid for userinfo');
    const granted = payload[OIDC_SCOPE_CLAIM];
    const scopes = typeof granted === 'string' ? granted.split(' ') : [];
    const allowed = new Set(scopes.flatMap((scope) => SCOPE_CLAIMS[scope] ?? []));
    const claims = account.claims() as Record<string, unknown>;
    return { status: 200, body: Object.fromEntries(Object.entries(claims).filter(([claim]) => allowed.has(claim))) };
  };
}
