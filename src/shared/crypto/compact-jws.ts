/**
 * One token, one spelling. A compact JWS can be re-spelled without the key: padding or stray bits
 * in a base64url segment, or, for ECDSA, the signature (r, s) swapped for its twin (r, n - s),
 * which verifies just as well. Anything that keys on the token's text (replay caches, revocation
 * lists, logs, DPoP `ath`) would then see two tokens. The issuer emits ES256 signatures with the
 * low s (as Bitcoin's BIP 62 and libsecp256k1 do), and resource servers accept that spelling only.
 */

/** The order n of the P-256 group. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_ORDER = P256_ORDER >> 1n;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

const toBigInt = (bytes: Buffer) => BigInt(`0x${bytes.toString('hex') || '0'}`);
const toBytes32 = (value: bigint) => Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
/** A segment in its only base64url spelling: no padding, no bits set past the last byte. */
const isCanonicalSegment = (segment: string) =>
  SEGMENT.test(segment) && Buffer.from(segment, 'base64url').toString('base64url') === segment;

function algorithmOf(compact: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(compact.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
      alg?: unknown;
    };
    return typeof header.alg === 'string' ? header.alg : undefined;
  } catch {
    return undefined;
  }
}

/** The low-s spelling of an ES256 compact JWS (other algorithms and malformed input unchanged). */
export function withLowS(compact: string): string {
  const parts = compact.split('.');
  if (parts.length !== 3 || algorithmOf(compact) !== 'ES256') return compact;
  const signature = Buffer.from(parts[2]!, 'base64url');
  if (signature.length !== 64) return compact;
  const s = toBigInt(signature.subarray(32));
  if (s <= HALF_ORDER) return compact;
  const twin = Buffer.concat([signature.subarray(0, 32), toBytes32(P256_ORDER - s)]);
  return `${parts[0]}.${parts[1]}.${twin.toString('base64url')}`;
}

/** True only for the one accepted spelling: three canonical base64url segments and, for ES256, a 64-byte low-s signature. */
export function isCanonicalCompactJws(compact: string): boolean {
  const parts = compact.split('.');
  if (parts.length !== 3 || !parts.every(isCanonicalSegment)) return false;
  if (algorithmOf(compact) !== 'ES256') return true;
  const signature = Buffer.from(parts[2]!, 'base64url');
  return signature.length === 64 && toBigInt(signature.subarray(32)) <= HALF_ORDER;
}
