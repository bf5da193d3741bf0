import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { APP_REDIRECT_URI, startIssuer, startIssuerWithApp, type IssuerHarness } from '../support/issuer-harness.ts';
import { rawRequest } from '../support/http.ts';
import { UserAgent } from '../support/user-agent.ts';

const DISCOVERY = '/.well-known/openid-configuration';

describe('issuer edge: hosts, forwarded headers and page headers', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;

  before(async () => {
    ({ issuer, config } = await startIssuerWithApp());
  });
  after(() => issuer.stop());

  it('attack: a request for another Host is refused with 421, and nothing it says reaches the answer', async () => {
    for (const path of [DISCOVERY, '/jwks', '/sign-up', '/reset']) {
      const response = await rawRequest(`${issuer.url}${path}`, { headers: { host: 'evil.example' } });
      assert.equal(response.status, 421, path);
      assert.doesNotMatch(response.body, /evil\.example/);
    }
    const device = await rawRequest(`${issuer.url}/device/auth`, {
      method: 'POST',
      headers: { host: 'evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'client_id=x',
    });
    assert.equal(device.status, 421);
  });

  it('attack: another Host is refused with 421 also once discovery and the JWKS are answered from memory', async () => {
    for (const path of [DISCOVERY, '/jwks']) {
      await (await fetch(`${issuer.url}${path}`)).arrayBuffer();
      const stored = await fetch(`${issuer.url}${path}`);
      await stored.arrayBuffer();
      assert.equal(stored.status, 200);
      assert.match(stored.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'a request id on the stored answer');
      const response = await rawRequest(`${issuer.url}${path}`, { headers: { host: 'evil.example' } });
      assert.equal(response.status, 421, path);
    }
  });

  it('attack: X-Forwarded-Host and X-Forwarded-Proto from a client are ignored without a trusted proxy; discovery names ISSUER_URL only', async () => {
    const response = await rawRequest(`${issuer.url}${DISCOVERY}`, {
      headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
    });
    assert.equal(response.status, 200);
    const metadata = JSON.parse(response.body) as Record<string, unknown>;
    for (const [name, value] of Object.entries(metadata)) {
      if (typeof value === 'string' && /^https?:/.test(value))
        assert.ok(value.startsWith(`${issuer.url}/`) || value === issuer.url, `${name}: ${value}`);
    }
  });

  it('lets discovery be cached briefly, since its URLs no longer depend on the request', async () => {
    const response = await fetch(`${issuer.url}${DISCOVERY}`);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=300');
  });

  it('attack: the device verification_uri comes from ISSUER_URL whatever forwarded host the request names', async () => {
    const cli = await issuer.createClient({ type: 'cli' });
    const response = await rawRequest(`${issuer.url}/device/auth`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-host': 'evil.example',
        forwarded: 'host=evil.example;proto=https',
      },
      body: new URLSearchParams({ client_id: cli.id, scope: 'openid' }).toString(),
    });
    assert.equal(response.status, 200, response.body);
    const body = JSON.parse(response.body) as { verification_uri: string; verification_uri_complete: string };
    assert.equal(body.verification_uri, `${issuer.url}/device`);
    assert.ok(body.verification_uri_complete.startsWith(`${issuer.url}/device?`));
  });

  it("attack: a DPoP proof made for another server's token endpoint is refused, even when the Host header claims to be that server", async () => {
    const service = await issuer.createClient({ type: 'service' });
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const publicJwk = await exportJWK(publicKey);
    const proof = (htu: string) =>
      new SignJWT({ htm: 'POST', htu, jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk })
        .setIssuedAt()
        .sign(privateKey);
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(service.id)}:${encodeURIComponent(service.secret!)}`).toString('base64')}`;
    const send = async (htu: string, host?: string) =>
      rawRequest(`${issuer.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic,
          dpop: await proof(htu),
          ...(host ? { host } : {}),
        },
        body: 'grant_type=client_credentials&scope=tasks%3Awork',
      });
    const foreign = await send('https://other-server.example/token');
    assert.equal(foreign.status, 400);
    assert.match(foreign.body, /invalid_dpop_proof/);
    const hostClaim = await send('http://other-server.example/token', 'other-server.example');
    assert.equal(hostClaim.status, 421);
    const own = await send(`${issuer.url}/token`);
    assert.equal(own.status, 200, own.body);
  });

  it("sends CSP, no framing and no referrer on the provider's own form_post page, which still carries its hashed script", async () => {
    const user = await issuer.createUser();
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      response_mode: 'form_post',
    });
    const agent = new UserAgent();
    const { response, url: at } = await agent.follow(url, issuer.url);
    await response.body?.cancel();
    const signedIn = await agent.submitForm(
      new URL(`${at.pathname}/login`, issuer.url),
      { csrf: agent.formToken(), email: user.email, password: 'correct horse battery staple' },
      issuer.url,
    );
    const html = await signedIn.response.text();
    assert.match(html, /<form method="post" action="http:\/\/127\.0\.0\.1:5173\/callback">/);
    const csp = signedIn.response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    assert.equal(signedIn.response.headers.get('x-frame-options'), 'DENY');
    assert.equal(signedIn.response.headers.get('referrer-policy'), 'no-referrer');
  });

  it('sends CSP, no framing and no referrer on GET /device?user_code=', async () => {
    const response = await fetch(`${issuer.url}/device?user_code=BCDF-GHJK`);
    await response.body?.cancel();
    assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
  });
});

describe('issuer edge behind a trusted proxy', () => {
  let issuer: IssuerHarness;

  before(async () => {
    issuer = await startIssuer({ TRUST_PROXY: '1' });
  });
  after(() => issuer.stop());

  it("attack: an X-Forwarded-Host other than the issuer's is refused with 421 when proxies are trusted", async () => {
    const response = await rawRequest(`${issuer.url}${DISCOVERY}`, { headers: { 'x-forwarded-host': 'evil.example' } });
    assert.equal(response.status, 421);
  });

  it('answers health probes that arrive by address, whatever the Host', async () => {
    const response = await rawRequest(`${issuer.url}/healthz`, { headers: { host: '10.0.0.7:4000' } });
    assert.equal(response.status, 200);
  });
});

describe('issuer edge with an internal address', () => {
  it('answers resource servers at the host of ISSUER_INTERNAL_URL, publishing ISSUER_URL all the same', async () => {
    const issuer = await startIssuer({ ISSUER_INTERNAL_URL: 'http://issuer.internal:3000' });
    try {
      const response = await rawRequest(`${issuer.url}${DISCOVERY}`, { headers: { host: 'issuer.internal:3000' } });
      assert.equal(response.status, 200);
      assert.equal((JSON.parse(response.body) as { jwks_uri: string }).jwks_uri, `${issuer.url}/jwks`);
    } finally {
      await issuer.stop();
    }
  });
});
