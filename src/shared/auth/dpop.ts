import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import type { Cache } from '../cache/cache.ts';
import { sha256Base64url } from '../crypto/digest.ts';

export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'];
const PROOF_MAX_AGE_SECONDS = 60;

export class DpopError extends Error {}

export interface DpopCheck {
  proof: string | undefined;
  accessToken: string;
  /** The `cnf.jkt` the access token is bound to. */
  thumbprint: string;
  method: string;
  /** The request's URL as the client addressed it: our public URL plus the path, no query or fragment. */
  url: string;
}

/**
 * RFC 9449 proof checks for a DPoP-bound access token: a `dpop+jwt` signed by the key in its own
 * header, for this method and URL, fresh, bound to this access token (`ath`), made with the key the
 * token is bound to, and never seen before (its `jti` is remembered for the proof's lifetime).
 */
export async function verifyDpopProof(check: DpopCheck, replayCache: Cache): Promise<void> {
  if (!check.proof) throw new DpopError('a DPoP proof is required for this token');
  let payload;
  let header;
  try {
    ({ payload, protectedHeader: header } = await jwtVerify(check.proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: DPOP_ALGORITHMS,
    }));
  } catch {
    throw new DpopError('the DPoP proof is not valid');
  }
  if (payload.htm !== check.method) throw new DpopError('the DPoP proof is for another method');
  if (
    typeof payload.htu !== 'string' ||
    !URL.canParse(payload.htu) ||
    stripQuery(payload.htu) !== stripQuery(check.url)
  )
    throw new DpopError('the DPoP proof is for another URL');
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > PROOF_MAX_AGE_SECONDS)
    throw new DpopError('the DPoP proof is not fresh');
  const ath = sha256Base64url(check.accessToken);
  if (payload.ath !== ath) throw new DpopError('the DPoP proof is for another access token');
  if ((await calculateJwkThumbprint(header.jwk as JWK)) !== check.thumbprint)
    throw new DpopError('the DPoP proof is signed with another key than the token is bound to');
  if (typeof payload.jti !== 'string' || payload.jti.length < 8 || payload.jti.length > 128)
    throw new DpopError('the DPoP proof has no usable jti');
  if (!(await replayCache.setIfAbsent(`dpop-jti:${check.thumbprint}:${payload.jti}`, '1', PROOF_MAX_AGE_SECONDS * 2)))
    throw new DpopError('the DPoP proof was already used');
}

function stripQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}
