import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { issuerKeys } from '../../src/resource-server/auth/issuer-keys.ts';

/** The task API's view of the issuer's keys, against a real HTTP server that counts what it is asked. */
describe('issuer key cache', () => {
  it('refetches the JWKS at most once per cooldown under a storm of unknown kids', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'real', alg: 'ES256', use: 'sig' };
    let jwksFetches = 0;
    const server = createServer((req, res) => {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }));
      else {
        jwksFetches += 1;
        res.end(JSON.stringify({ keys: [jwk] }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const keys = issuerKeys({ issuer, cooldownMs: 60_000 });
      const sign = (kid: string) => new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(issuer).sign(privateKey);
      await jwtVerify(await sign('real'), keys);
      const bogus = await Promise.all(Array.from({ length: 50 }, (_, i) => sign(`bogus-${i}`)));
      const results = await Promise.allSettled(bogus.map((token) => jwtVerify(token, keys)));
      assert.ok(results.every((result) => result.status === 'rejected'));
      assert.ok(jwksFetches <= 2, `fetched the JWKS ${jwksFetches} times`);
    } finally {
      server.close();
    }
  });
});
