import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '../logging/logger.ts';

export interface IssuerKeysOptions {
  /** The issuer identifier tokens must carry in `iss`, exactly. */
  issuer: string;
  /** Where to reach the issuer, if not at its public URL. */
  internalUrl?: string | undefined;
  /** An unknown `kid` or an aged key set refetches at most once per this many milliseconds, whether the fetch succeeds or fails. */
  cooldownMs?: number;
  /** A key set older than this is refreshed (within the cooldown) before use. */
  maxAgeMs?: number;
  /** While the issuer cannot be reached, the last key set fetched keeps verifying for this long after its fetch; then tokens are refused. */
  staleIfErrorMs?: number;
  fetchTimeoutMs?: number;
  log?: Logger;
  /** Told of each key-set fetch and whether each lookup was answered from the held set (metrics). */
  observe?: { fetched(outcome: 'success' | 'failure'): void; lookedUp(held: boolean): void };
}

/** `not_fetched`: no token has needed the keys yet (they are fetched on first use). */
export type IssuerKeysState = 'fresh' | 'stale' | 'not_fetched';

export interface IssuerKeys extends JWTVerifyGetKey {
  /** For readiness: `stale` while the last refresh failed and the previous key set is still served. */
  state(): IssuerKeysState;
}

async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: 'application/json' },
  });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.json();
}

/** The issuer's JWKS, found through its discovery document (which must name the issuer we trust). */
async function fetchIssuerKeySet(
  issuer: string,
  internalUrl: string | undefined,
  timeoutMs: number,
): Promise<JSONWebKeySet> {
  const base = internalUrl ?? issuer;
  const metadata = (await getJson(`${base}/.well-known/openid-configuration`, timeoutMs)) as {
    issuer?: unknown;
    jwks_uri?: unknown;
  };
  if (metadata.issuer !== issuer) throw new Error('the discovery document names another issuer');
  if (typeof metadata.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri');
  // Behind an internal address the document still speaks the public URL; fetch keys where we reach it.
  const jwksUri =
    internalUrl && metadata.jwks_uri.startsWith(issuer)
      ? `${internalUrl}${metadata.jwks_uri.slice(issuer.length)}`
      : metadata.jwks_uri;
  const set = (await getJson(jwksUri, timeoutMs)) as JSONWebKeySet;
  if (!Array.isArray(set.keys)) throw new Error('the JWKS has no keys');
  return set;
}

/**
 * The issuer's signing keys, found through its discovery document and held in memory.
 * - Keys rotated in are picked up without a restart: a token with an unknown `kid` refetches.
 * - Refetching (for an unknown `kid`, or a set older than `maxAgeMs`) happens at most once per
 *   cooldown, one fetch at a time, whether it succeeds or not: a storm of made-up `kid`s cannot make
 *   us hammer the issuer, up or down.
 * - Stale-if-error: with the issuer unreachable, the last good set keeps verifying known keys for
 *   `staleIfErrorMs` (default 24 h, far beyond a token's 10 minutes), and the degraded state is
 *   logged once and shown in readiness. Past the bound, or with no set ever fetched: refused.
 */
export function issuerKeys({
  issuer,
  internalUrl,
  cooldownMs = 30_000,
  maxAgeMs = 10 * 60_000,
  staleIfErrorMs = 24 * 3_600_000,
  fetchTimeoutMs = 3_000,
  log,
  observe,
}: IssuerKeysOptions): IssuerKeys {
  let local: JWTVerifyGetKey | undefined;
  let fetchedAt = 0;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;
  let degraded = false;

  async function fetchKeySet(): Promise<void> {
    const set = await fetchIssuerKeySet(issuer, internalUrl, fetchTimeoutMs).catch((error: unknown) => {
      observe?.fetched('failure');
      throw error;
    });
    observe?.fetched('success');
    local = createLocalJWKSet(set);
    fetchedAt = Date.now();
    if (degraded) log?.info('issuer keys fetched again; no longer serving a stale key set');
    degraded = false;
  }

  /** One refresh at a time, and none within the cooldown of the last attempt. Never throws. */
  function refresh(): Promise<void> {
    if (inFlight) return inFlight;
    if (Date.now() - lastAttemptAt < cooldownMs) return Promise.resolve();
    lastAttemptAt = Date.now();
    inFlight = fetchKeySet()
      .catch((error: unknown) => {
        if (!degraded && local)
          log?.warn(
            { errMessage: (error as Error).message },
            'issuer keys could not be refreshed; verifying with the last key set fetched',
          );
        else if (!local)
          log?.warn(
            { errMessage: (error as Error).message },
            'issuer keys could not be fetched; tokens cannot be verified',
          );
        degraded = local !== undefined;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  }

  const getKey = (async (header, token) => {
    const held = local !== undefined && Date.now() - fetchedAt <= maxAgeMs;
    if (!held) await refresh();
    if (!local) throw new joseErrors.JWKSNoMatchingKey('the issuer keys are not available');
    if (Date.now() - fetchedAt > staleIfErrorMs)
      throw new joseErrors.JWKSNoMatchingKey('the issuer keys are too old to trust');
    try {
      const key = await local(header, token);
      observe?.lookedUp(held);
      return key;
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
      // A key we have not seen: perhaps rotated in since the last fetch.
      observe?.lookedUp(false);
      await refresh();
      return local(header, token);
    }
  }) as IssuerKeys;
  getKey.state = () => (!local ? 'not_fetched' : degraded || Date.now() - fetchedAt > maxAgeMs ? 'stale' : 'fresh');
  return getKey;
}
