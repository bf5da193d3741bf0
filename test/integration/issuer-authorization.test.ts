import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { startIssuer, TEST_PASSWORD, type IssuerHarness } from '../support/issuer-harness.ts';
import { UserAgent } from '../support/user-agent.ts';

const REDIRECT = 'http://127.0.0.1:5173/callback';

/** Negative cases of the authorization endpoint and the code exchange, each its own test. */
describe('authorization code flow, refused', () => {
  let issuer: IssuerHarness;
  let spa: { id: string };
  let config: client.Configuration;
  let user: { id: string; email: string };

  before(async () => {
    issuer = await startIssuer();
    spa = await issuer.createClient({ type: 'spa', redirectUris: [REDIRECT], firstParty: true });
    config = await issuer.discover(spa.id);
    user = await issuer.createUser();
  });
  after(() => issuer.stop());

  /** Sends an authorization request and returns where the issuer sent the browser (or its error page). */
  async function authorizationResponse(
    parameters: Record<string, string>,
  ): Promise<{ status: number; location: URL | undefined; body: string }> {
    const url = new URL(`${issuer.url}/auth`);
    for (const [key, value] of Object.entries({
      client_id: spa.id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT,
      state: 's',
      ...parameters,
    })) {
      if (value !== '') url.searchParams.set(key, value);
    }
    const response = await new UserAgent().request(url);
    const location = response.headers.get('location');
    return {
      status: response.status,
      location: location ? new URL(location, issuer.url) : undefined,
      body: await response.text(),
    };
  }

  const S256_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

  it('refuses an authorization request without PKCE', async () => {
    const { location } = await authorizationResponse({});
    assert.equal(location?.searchParams.get('error'), 'invalid_request');
    assert.match(location?.searchParams.get('error_description') ?? '', /requires PKCE/);
  });

  it('refuses the plain PKCE method', async () => {
    const { location } = await authorizationResponse({
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'plain',
    });
    assert.equal(location?.searchParams.get('error'), 'invalid_request');
  });

  for (const [name, redirect] of [
    ['an unregistered redirect URI', 'http://127.0.0.1:5173/elsewhere'],
    ['a redirect URI with a trailing slash added', `${REDIRECT}/`],
    ['a redirect URI differing in case', REDIRECT.replace('callback', 'Callback')],
    ['a redirect URI with an extra query', `${REDIRECT}?next=/admin`],
  ] as const) {
    it(`shows an error page, and redirects nowhere, for ${name}`, async () => {
      const { status, location, body } = await authorizationResponse({
        redirect_uri: redirect,
        code_challenge: S256_CHALLENGE,
        code_challenge_method: 'S256',
      });
      assert.equal(status, 400);
      assert.equal(location, undefined);
      assert.match(body, /redirect_uri/);
    });
  }

  for (const responseType of ['token', 'id_token', 'code id_token']) {
    it(`refuses response_type=${responseType}`, async () => {
      const { location } = await authorizationResponse({
        response_type: responseType,
        code_challenge: S256_CHALLENGE,
        code_challenge_method: 'S256',
        nonce: 'n',
      });
      assert.equal(
        location?.searchParams.get('error') ?? new URLSearchParams(location?.hash.slice(1)).get('error'),
        'unsupported_response_type',
      );
    });
  }

  it('refuses a code whose PKCE verifier does not match', async () => {
    const { callbackUrl, state } = await issuer.authorize(config, user, { redirect_uri: REDIRECT });
    await assert.rejects(
      client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: state,
      }),
      (error: client.ResponseBodyError) => error.error === 'invalid_grant',
    );
  });

  it('refuses a code redeemed twice, and revokes what the first redemption issued', async () => {
    const { callbackUrl, verifier, state } = await issuer.authorize(config, user, { redirect_uri: REDIRECT });
    const first = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    await assert.rejects(
      client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state }),
      (error: client.ResponseBodyError) => error.error === 'invalid_grant',
    );
    await assert.rejects(
      client.refreshTokenGrant(config, first.refresh_token!),
      (error: client.ResponseBodyError) => error.error === 'invalid_grant',
    );
  });

  it('refuses a code presented by another client', async () => {
    const other = await issuer.createClient({ type: 'spa', redirectUris: [REDIRECT], firstParty: true });
    const otherConfig = await issuer.discover(other.id);
    const { callbackUrl, verifier, state } = await issuer.authorize(config, user, { redirect_uri: REDIRECT });
    await assert.rejects(
      client.authorizationCodeGrant(otherConfig, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state }),
      (error: client.ResponseBodyError) => error.error === 'invalid_grant',
    );
  });

  it('refuses an expired code', async () => {
    const { callbackUrl, verifier, state } = await issuer.authorize(config, user, { redirect_uri: REDIRECT });
    // Codes live 60 s; move the clock rather than wait.
    const realNow = Date.now;
    Date.now = () => realNow() + 61_000;
    try {
      await assert.rejects(
        client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state }),
        (error: client.ResponseBodyError) => error.error === 'invalid_grant',
      );
    } finally {
      Date.now = realNow;
    }
  });

  it('gives exactly one of twenty parallel redemptions of a code a token response', async () => {
    const { callbackUrl, verifier } = await issuer.authorize(config, user, { redirect_uri: REDIRECT });
    const code = callbackUrl.searchParams.get('code')!;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${issuer.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code,
            code_verifier: verifier,
            redirect_uri: REDIRECT,
            client_id: spa.id,
          }),
        }).then(async (response) => ({ status: response.status, body: (await response.json()) as { error?: string } })),
      ),
    );
    assert.equal(results.filter((result) => result.status === 200).length, 1);
    for (const result of results.filter((r) => r.status !== 200)) assert.equal(result.body.error, 'invalid_grant');
  });

  it('refuses a wrong client secret', async () => {
    const web = await issuer.createClient({ type: 'web', redirectUris: [REDIRECT] });
    const wrong = await issuer.discover(web.id, 'not-the-secret');
    await assert.rejects(
      client.refreshTokenGrant(wrong, 'anything'),
      (error: client.ResponseBodyError | client.WWWAuthenticateChallengeError) =>
        (error as { status?: number }).status === 401,
    );
  });

  it('names the scope it refuses when a client asks for more than it was registered for', async () => {
    const { location } = await authorizationResponse({
      scope: 'openid tasks:admin',
      code_challenge: S256_CHALLENGE,
      code_challenge_method: 'S256',
    });
    assert.equal(location?.searchParams.get('error'), 'invalid_scope');
    assert.match(location?.searchParams.get('error_description') ?? '', /tasks:admin/);
  });

  it('names the resource it refuses when a client asks for one it was not registered for', async () => {
    const { location } = await authorizationResponse({
      resource: 'https://elsewhere.example/api',
      code_challenge: S256_CHALLENGE,
      code_challenge_method: 'S256',
    });
    assert.equal(location?.searchParams.get('error'), 'invalid_target');
    assert.match(location?.searchParams.get('error_description') ?? '', /elsewhere\.example/);
  });

  it('answers a wrong password with the generic message and status', async () => {
    const agent = new UserAgent();
    const start = await agent.follow(
      client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: S256_CHALLENGE,
        code_challenge_method: 'S256',
      }),
      issuer.url,
    );
    await start.response.body?.cancel();
    const wrongPassword = await agent.submitForm(
      `${start.url.href}/login`,
      { csrf: agent.formToken(), email: user.email, password: `${TEST_PASSWORD}!` },
      issuer.url,
    );
    const unknownEmail = await agent.submitForm(
      `${start.url.href}/login`,
      { csrf: agent.formToken(), email: 'nobody@example.com', password: TEST_PASSWORD },
      issuer.url,
    );
    assert.equal(wrongPassword.response.status, 401);
    assert.equal(unknownEmail.response.status, 401);
    // Identical but for the per-response CSP nonce and the address typed, which stays in the field.
    const withoutNonce = (html: string) =>
      html
        .replace(/nonce="[^"]+"/g, '')
        .replace(/name="email" autocomplete="username webauthn" required maxlength="320" value="[^"]*"/, 'EMAIL FIELD');
    const [a, b] = [
      withoutNonce(await wrongPassword.response.text()),
      withoutNonce(await unknownEmail.response.text()),
    ];
    assert.match(a, /do not match an active account/);
    assert.equal(a, b);
  });
});
