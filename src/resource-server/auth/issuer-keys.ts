import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';

export interface IssuerKeysOptions {
  /** The issuer identifier tokens must carry in `iss`, exactly. */
  issuer: string;
  /** Where to reach the issuer, if not at its public URL. */
  internalUrl?: string | undefined;
  /** An unknown `kid` refetches the JWKS at most once per this many milliseconds. */
  cooldownMs?: number;
  fetchTimeoutMs?: number;
}

/**
 * The issuer's signing keys, found through its discovery document and cached. A token signed by a
 * key we have not seen triggers at most one refetch per cooldown (so keys rotated in moments ago are
 * accepted without a restart, and a storm of made-up `kid`s cannot make us hammer the issuer). If
 * the issuer cannot be reached, the lookup fails and the token is refused: fail closed.
 */
export function issuerKeys({ issuer, internalUrl, cooldownMs = 30_000, fetchTimeoutMs = 3_000 }: IssuerKeysOptions): JWTVerifyGetKey {
  let resolver: Promise<JWTVerifyGetKey> | undefined;

  async function discover(): Promise<JWTVerifyGetKey> {
    const base = internalUrl ?? issuer;
    const response = await fetch(`${base}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(fetchTimeoutMs) });
    if (!response.ok) throw new Error(`issuer discovery answered ${response.status}`);
    const metadata = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (metadata.issuer !== issuer) throw new Error('the discovery document names another issuer');
    if (typeof metadata.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri');
    // Behind an internal address the document still speaks the public URL; fetch keys where we reach it.
    const jwksUri = internalUrl && metadata.jwks_uri.startsWith(issuer) ? `${internalUrl}${metadata.jwks_uri.slice(issuer.length)}` : metadata.jwks_uri;
    return createRemoteJWKSet(new URL(jwksUri), { cooldownDuration: cooldownMs, cacheMaxAge: 10 * 60_000, timeoutDuration: fetchTimeoutMs });
  }

  return async (header, token) => {
    resolver ??= discover().catch((error: unknown) => {
      // Try discovery again on the next request rather than caching the failure.
      resolver = undefined;
      throw error;
    });
    return (await resolver)(header, token);
  };
}
