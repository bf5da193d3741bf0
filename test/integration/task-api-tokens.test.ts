import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT, UnsecuredJWT, exportJWK, generateKeyPair } from 'jose';
import * as client from 'openid-client';
import { isCanonicalCompactJws } from '../../src/shared/crypto/compact-jws.ts';
import { startStack, type Stack } from '../support/task-api-harness.ts';

/** Every way an access token can be wrong, each refused with 401 and a challenge, never echoed. */
describe('task API token verification', () => {
  let stack: Stack;
  let valid: { token: string; sub: string; idToken: string };
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    stack = await startStack();
    valid = await stack.userToken();
  });
  after(() => stack.stop());

  const claims = () => ({
    iss: stack.issuer.url,
    aud: stack.apiUrl,
    sub: valid.sub,
    client_id: 'app',
    scope: 'tasks:read',
    jti: `j-${Math.random()}`,
    iat: now(),
    exp: now() + 600,
  });

  async function refused(
    token: string | undefined,
    expectedCode = 'invalid_token',
    headers: Record<string, string> = {},
  ) {
    const response = await stack.call('GET', '/tasks/mine', token, undefined, headers);
    assert.equal(response.status, 401);
    assert.equal(response.body.error.code, expectedCode);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm="task-api"/);
    if (token) assert.ok(!JSON.stringify(response.body).includes(token), 'the token is never echoed');
    return response;
  }

  it('accepts a valid token from the issuer', async () => {
    assert.equal((await stack.call('GET', '/tasks/mine', valid.token)).status, 200);
  });

  it('refuses a request without a token, pointing at the protected-resource metadata', async () => {
    const response = await refused(undefined, 'unauthorized');
    assert.match(
      response.headers.get('www-authenticate')!,
      /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource"/,
    );
    assert.match(response.headers.get('www-authenticate')!, /DPoP realm="task-api", algs="ES256/);
  });

  it('refuses a malformed token', async () => {
    await refused('not-a-jwt');
  });

  it('refuses a token whose signature does not match', async () => {
    const [header, payload] = valid.token.split('.');
    const tampered = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    tampered.roles = ['admin'];
    await refused(
      `${header}.${Buffer.from(JSON.stringify(tampered)).toString('base64url')}.${valid.token.split('.')[2]}`,
    );
  });

  it('gets tokens from the issuer in the one spelling it accepts (low-s ES256, no padding)', async () => {
    for (let i = 0; i < 8; i += 1) assert.ok(isCanonicalCompactJws((await stack.userToken()).token));
  });

  it('attack: refuses the token with padding appended to its signature', async () => {
    await refused(`${valid.token}=`);
    await refused(`${valid.token}==`);
  });

  it('attack: refuses the high-s twin of a valid ES256 signature, though it verifies', async () => {
    const [header, payload, signature] = valid.token.split('.') as [string, string, string];
    const bytes = Buffer.from(signature, 'base64url');
    const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
    const order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const twin = Buffer.concat([bytes.subarray(0, 32), Buffer.from((order - s).toString(16).padStart(64, '0'), 'hex')]);
    await refused(`${header}.${payload}.${twin.toString('base64url')}`);
  });

  it('refuses alg none', async () => {
    await refused(new UnsecuredJWT(claims()).encode());
  });

  it('refuses HS256 signed with the issuer public key as the secret', async () => {
    const jwks = (await (await fetch(`${stack.issuer.url}/jwks`)).json()) as { keys: Array<{ alg: string }> };
    const publicPem = createPublicKey({
      key: jwks.keys.find((key) => key.alg === 'ES256')!,
      format: 'jwk',
    } as never).export({ type: 'spki', format: 'pem' });
    await refused(
      await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(Buffer.from(publicPem)),
    );
  });

  it('refuses an expired token', async () => {
    await refused(await stack.signAsIssuer({ ...claims(), iat: now() - 700, exp: now() - 60 }));
  });

  it('refuses a token not yet valid', async () => {
    await refused(await stack.signAsIssuer({ ...claims(), nbf: now() + 120 }));
  });

  it('refuses a token from another issuer', async () => {
    await refused(await stack.signAsIssuer({ ...claims(), iss: 'https://evil.example' }));
  });

  it('refuses a token for another audience', async () => {
    await refused(await stack.signAsIssuer({ ...claims(), aud: 'https://other-api.example' }));
  });

  it('refuses an ID token presented as an access token', async () => {
    await refused(valid.idToken);
  });

  it('refuses a token signed with a key the issuer never published', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    await refused(
      await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'made-up' }).sign(privateKey),
    );
  });

  it('ignores a key embedded in the token header (jwk), refusing the token', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    await refused(
      await new SignJWT(claims())
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', jwk: await exportJWK(publicKey) })
        .sign(privateKey),
    );
  });

  describe('DPoP-bound tokens', () => {
    let bound: { token: string; config: client.Configuration };
    let keyPair: client.CryptoKeyPair;

    before(async () => {
      const service = await stack.serviceToken();
      keyPair = await client.randomDPoPKeyPair('ES256');
      const tokens = await client.clientCredentialsGrant(
        service.config,
        { scope: 'tasks:work' },
        { DPoP: client.getDPoPHandle(service.config, keyPair) },
      );
      bound = { token: tokens.access_token, config: service.config };
    });

    async function proof(keys: client.CryptoKeyPair, overrides: Record<string, unknown> = {}) {
      return new SignJWT({
        htm: 'GET',
        htu: `${stack.apiUrl}/worker/tasks/next`,
        iat: now(),
        jti: `p-${Math.random().toString(36).slice(2)}`,
        ath: createHash('sha256').update(bound.token).digest('base64url'),
        ...overrides,
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
        .sign(keys.privateKey);
    }
    const callBound = (dpop?: string, scheme = 'DPoP') =>
      stack.call('GET', '/worker/tasks/next', undefined, undefined, {
        authorization: `${scheme} ${bound.token}`,
        ...(dpop ? { dpop } : {}),
      });

    it('accepts a bound token with a valid proof', async () => {
      assert.ok([200, 204].includes((await callBound(await proof(keyPair))).status));
    });

    it('refuses a bound token without a proof', async () => {
      const response = await callBound();
      assert.equal(response.status, 401);
      assert.match(
        response.headers.get('www-authenticate')!,
        /DPoP realm="task-api", algs="[^"]+", error="invalid_dpop_proof"/,
      );
    });

    it('refuses a bound token sent as a plain bearer token', async () => {
      assert.equal((await callBound(undefined, 'Bearer')).status, 401);
    });

    it('refuses a proof made with another key', async () => {
      assert.equal((await callBound(await proof(await client.randomDPoPKeyPair('ES256')))).status, 401);
    });

    it('refuses a proof for another URL or method', async () => {
      assert.equal((await callBound(await proof(keyPair, { htu: `${stack.apiUrl}/tasks/mine` }))).status, 401);
      assert.equal((await callBound(await proof(keyPair, { htm: 'POST' }))).status, 401);
    });

    it('refuses a proof that is not fresh', async () => {
      assert.equal((await callBound(await proof(keyPair, { iat: now() - 600 }))).status, 401);
    });

    it('refuses a replayed proof', async () => {
      const once = await proof(keyPair);
      assert.ok([200, 204].includes((await callBound(once)).status));
      const replay = await callBound(once);
      assert.equal(replay.status, 401);
      assert.match(replay.body.error.message, /already used/);
    });
  });

  it('publishes protected-resource metadata (RFC 9728)', async () => {
    const metadata = (await (await fetch(`${stack.apiUrl}/.well-known/oauth-protected-resource`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(metadata.resource, stack.apiUrl);
    assert.deepEqual(metadata.authorization_servers, [stack.issuer.url]);
    assert.deepEqual(metadata.scopes_supported, ['tasks:read', 'tasks:write', 'tasks:admin', 'tasks:work']);
    assert.ok((metadata.dpop_signing_alg_values_supported as string[]).includes('ES256'));
  });

  it('answers an unknown route with 404 in the envelope, without asking for a token', async () => {
    const response = await stack.call('GET', '/nothing/here');
    assert.equal(response.status, 404);
    assert.equal(response.body.error.code, 'not_found');
  });
});
