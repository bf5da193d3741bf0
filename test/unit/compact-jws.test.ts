import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT, generateKeyPair, jwtVerify } from 'jose';
import { isCanonicalCompactJws, withLowS } from '../../src/shared/crypto/compact-jws.ts';

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** The other spelling of an ES256 signature: (r, n - s). */
function twin(compact: string): string {
  const [header, payload, signature] = compact.split('.') as [string, string, string];
  const bytes = Buffer.from(signature, 'base64url');
  const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
  const flipped = Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex');
  return `${header}.${payload}.${Buffer.concat([bytes.subarray(0, 32), flipped]).toString('base64url')}`;
}

describe('compact JWS spelling', async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const tokens = await Promise.all(
    Array.from({ length: 16 }, (_, i) => new SignJWT({ i }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey)),
  );

  it('turns every ES256 signature into its low-s spelling, which still verifies', async () => {
    for (const token of tokens) {
      const low = withLowS(token);
      assert.ok(isCanonicalCompactJws(low));
      await jwtVerify(low, publicKey);
      assert.equal(withLowS(twin(token)), low, 'both spellings normalise to one');
    }
  });

  it('refuses the high-s twin of a signature, though it verifies', async () => {
    const low = withLowS(tokens[0]!);
    const high = twin(low);
    await jwtVerify(high, publicKey);
    assert.equal(isCanonicalCompactJws(high), false);
  });

  it('refuses padding and non-canonical base64url in any segment', () => {
    const low = withLowS(tokens[1]!);
    assert.equal(isCanonicalCompactJws(`${low}=`), false);
    assert.equal(isCanonicalCompactJws(`${low}==`), false);
    const [header, payload, signature] = low.split('.') as [string, string, string];
    assert.equal(isCanonicalCompactJws(`${header}=.${payload}.${signature}`), false);
    assert.equal(isCanonicalCompactJws(`${header}.${payload}.${signature}.`), false);
  });
});
