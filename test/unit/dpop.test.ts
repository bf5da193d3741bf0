import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { DpopError, verifyDpopProof } from '../../src/shared/auth/dpop.ts';
import { MemoryCache } from '../../src/shared/cache/memory-cache.ts';
import { sha256Base64url } from '../../src/shared/crypto/digest.ts';

const URL_ = 'https://api.example.com/tasks/mine';
const ACCESS_TOKEN = 'an-access-token';

async function keyPair() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, thumbprint: await calculateJwkThumbprint(jwk) };
}

async function proof(key: Awaited<ReturnType<typeof keyPair>>, claims: Record<string, unknown> = {}) {
  const iat = Math.floor(Date.now() / 1000);
  const payload = { htm: 'GET', htu: URL_, ath: sha256Base64url(ACCESS_TOKEN), jti: randomUUID(), iat, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk }).sign(key.privateKey);
}

describe('DPoP proofs (RFC 9449)', () => {
  let cache = new MemoryCache();
  afterEach(async () => {
    await cache.close();
    cache = new MemoryCache();
  });
  const check = (
    proofJwt: string | undefined,
    thumbprint: string,
    extra: Partial<Parameters<typeof verifyDpopProof>[0]> = {},
  ) =>
    verifyDpopProof(
      { proof: proofJwt, accessToken: ACCESS_TOKEN, thumbprint, method: 'GET', url: URL_, ...extra },
      cache,
    );

  it('accepts a fresh proof for this method, URL, token and key', async () => {
    const key = await keyPair();
    await check(await proof(key), key.thumbprint);
  });

  it('ignores the query string of the URL the proof names', async () => {
    const key = await keyPair();
    await check(await proof(key, { htu: `${URL_}?limit=5` }), key.thumbprint, { url: `${URL_}?limit=10` });
  });

  const refusals: Array<
    [string, (key: Awaited<ReturnType<typeof keyPair>>) => Promise<[string | undefined, string]>, RegExp]
  > = [
    ['no proof at all', async (key) => [undefined, key.thumbprint], /required/],
    ['another method', async (key) => [await proof(key, { htm: 'POST' }), key.thumbprint], /another method/],
    [
      'another URL',
      async (key) => [await proof(key, { htu: 'https://api.example.com/tasks/other' }), key.thumbprint],
      /another URL/,
    ],
    [
      'another access token',
      async (key) => [await proof(key, { ath: sha256Base64url('other') }), key.thumbprint],
      /another access token/,
    ],
    [
      'another key than the token is bound to',
      async (key) => [await proof(key), (await keyPair()).thumbprint],
      /another key/,
    ],
    [
      'an old proof',
      async (key) => [await proof(key, { iat: Math.floor(Date.now() / 1000) - 600 }), key.thumbprint],
      /not fresh/,
    ],
    ['a proof without a usable jti', async (key) => [await proof(key, { jti: 'short' }), key.thumbprint], /jti/],
    ['a proof that is not a JWT', async (key) => ['not.a.jwt', key.thumbprint], /not valid/],
  ];
  for (const [name, make, message] of refusals)
    it(`refuses ${name}`, async () => {
      const [proofJwt, thumbprint] = await make(await keyPair());
      await assert.rejects(
        check(proofJwt, thumbprint),
        (error: unknown) => error instanceof DpopError && message.test(error.message),
      );
    });

  it('refuses a proof the second time it is presented', async () => {
    const key = await keyPair();
    const once = await proof(key);
    await check(once, key.thumbprint);
    await assert.rejects(check(once, key.thumbprint), /already used/);
  });
});
