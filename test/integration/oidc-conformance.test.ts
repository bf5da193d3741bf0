import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { profiles } from '../../src/accounts/profile.ts';
import { userRepository } from '../../src/accounts/user-repository.ts';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import {
  APP_REDIRECT_URI,
  startIssuer,
  TEST_PASSWORD,
  type IssuerHarness,
  type TestUser,
} from '../support/issuer-harness.ts';
import { UserAgent } from '../support/user-agent.ts';

/**
 * The OpenID Connect Basic and Config OP checks that apply to a code-flow provider, reproduced
 * against a running issuer with openid-client as the relying party. Not applicable here (and why):
 * implicit and hybrid flows (Latchkey offers `code` only), dynamic registration (clients are
 * registered by the operator), request objects by value (refused cleanly, below), POST to the authorization and logout endpoints (see docs/issuer.md). Key rotation is
 * checked in issuer-keys.test.ts (published before use, old keys kept while their tokens live).
 */
const SIGNED_OUT_URI = 'http://127.0.0.1:5173/signed-out';

describe('OpenID Connect conformance (Basic and Config OP)', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;
  let app: { id: string; secret: string | undefined };
  let user: TestUser;

  before(async () => {
    issuer = await startIssuer();
    app = await issuer.createClient({
      type: 'web',
      redirectUris: [APP_REDIRECT_URI],
      postLogoutRedirectUris: [SIGNED_OUT_URI],
      firstParty: true,
      scopes: ['openid', 'email', 'profile', 'offline_access'],
    });
    config = await issuer.discover(app.id, app.secret);
    user = await issuer.createUser();
  });
  after(() => issuer.stop());

  const codeFlow = async (parameters: Record<string, string> = {}) => {
    const { callbackUrl, verifier, state, agent } = await issuer.authorize(config, user, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid email',
      ...parameters,
    });
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    return { tokens, agent };
  };
  /** Sends the browser to /auth with `parameters` and returns where it ended (the client, or a page of ours). */
  const authorizeAs = async (agent: UserAgent, parameters: Record<string, string>) => {
    const url = new URL(`${issuer.url}/auth`);
    for (const [key, value] of Object.entries({
      client_id: app.id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: APP_REDIRECT_URI,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      state: 'st',
      ...parameters,
    })) {
      if (value !== '') url.searchParams.set(key, value);
    }
    const { response, url: at } = await agent.follow(url, issuer.url);
    const body = response.bodyUsed ? '' : await response.text().catch(() => '');
    return { status: response.status, at, body };
  };

  it('publishes discovery with the required fields, acr values and the introspection and revocation auth methods', async () => {
    const metadata = config.serverMetadata();
    for (const field of [
      'issuer',
      'authorization_endpoint',
      'token_endpoint',
      'jwks_uri',
      'userinfo_endpoint',
      'response_types_supported',
      'subject_types_supported',
      'id_token_signing_alg_values_supported',
      'end_session_endpoint',
    ] as const) {
      assert.ok(metadata[field], field);
    }
    assert.equal(metadata.issuer, issuer.url);
    assert.deepEqual(
      metadata.scopes_supported,
      ['openid', 'offline_access', 'email', 'profile'],
      'only scopes whose claims we return',
    );
    assert.deepEqual(metadata.acr_values_supported, [
      'urn:latchkey:pwd',
      'urn:latchkey:email',
      'urn:latchkey:fed',
      'urn:latchkey:mfa',
    ]);
    assert.deepEqual(
      metadata.introspection_endpoint_auth_methods_supported,
      metadata.token_endpoint_auth_methods_supported,
    );
    assert.deepEqual(
      metadata.revocation_endpoint_auth_methods_supported,
      metadata.token_endpoint_auth_methods_supported,
    );
  });

  it('issues an ID token with acr, amr and auth_time, which openid-client validates', async () => {
    const { tokens } = await codeFlow({ max_age: '600' });
    const claims = tokens.claims()!;
    assert.equal(claims.acr, 'urn:latchkey:pwd');
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(typeof claims.auth_time, 'number');
    const info = await client.fetchUserInfo(config, tokens.access_token, user.id);
    assert.equal(info.acr, undefined, 'userinfo holds profile claims, not how the person signed in');
  });

  it('returns the profile claims for the profile scope at userinfo, and none without it', async () => {
    const saved = await profiles({
      users: userRepository(issuer.service.database.client),
      events: issuer.issuer.events,
    }).update(
      user.id,
      { name: 'Ada Lovelace', given_name: 'Ada', locale: 'en-GB', zoneinfo: 'Europe/London' },
      { actor: 'test' },
    );
    assert.equal(saved.outcome, 'updated');
    const { tokens } = await codeFlow({ scope: 'openid profile email' });
    const info = await client.fetchUserInfo(config, tokens.access_token, user.id);
    assert.deepEqual(
      { name: info.name, given_name: info.given_name, locale: info.locale, zoneinfo: info.zoneinfo },
      { name: 'Ada Lovelace', given_name: 'Ada', locale: 'en-GB', zoneinfo: 'Europe/London' },
    );
    assert.equal(typeof info.updated_at, 'number');
    assert.equal(info.family_name, undefined, 'a field never set is left out, not null');
    const withoutProfile = await codeFlow({ scope: 'openid email' });
    const narrower = await client.fetchUserInfo(config, withoutProfile.tokens.access_token, user.id);
    assert.deepEqual(Object.keys(narrower).sort(), ['email', 'email_verified', 'sub']);
  });

  it('answers userinfo by GET and by POST', async () => {
    const { tokens } = await codeFlow();
    const viaGet = await client.fetchUserInfo(config, tokens.access_token, user.id);
    assert.equal(viaGet.email, user.email);
    const viaPost = await fetch(`${issuer.url}/me`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: tokens.access_token }),
    });
    assert.equal(((await viaPost.json()) as { sub: string }).sub, user.id);
  });

  it('answers userinfo for an access token that also names an API (one token for both, as client libraries expect)', async () => {
    const both = await issuer.createClient({
      type: 'web',
      redirectUris: [APP_REDIRECT_URI],
      firstParty: true,
      scopes: ['openid', 'email', 'tasks:read'],
    });
    const bothConfig = await issuer.discover(both.id, both.secret);
    const { callbackUrl, verifier, state } = await issuer.authorize(bothConfig, user, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid email tasks:read',
    });
    const tokens = await client.authorizationCodeGrant(bothConfig, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const claims = decodeJwt(tokens.access_token);
    assert.deepEqual(claims.aud, [issuer.taskApi, `${issuer.url}/me`], 'the API first, userinfo beside it');
    const info = await client.fetchUserInfo(bothConfig, tokens.access_token, user.id);
    assert.deepEqual(info, { sub: user.id, email: user.email, email_verified: true });
  });

  it('refuses at userinfo an API token from a request without openid, and a forged one', async () => {
    const service = await issuer.createClient({ type: 'service' });
    const serviceConfig = await issuer.discover(service.id, service.secret);
    const serviceToken = (await client.clientCredentialsGrant(serviceConfig, { scope: 'tasks:work' })).access_token;
    for (const token of [serviceToken, `${serviceToken.split('.').slice(0, 2).join('.')}.${'A'.repeat(86)}`]) {
      const response = await fetch(`${issuer.url}/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 401);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_token');
    }
  });

  it('refuses an authorization request without redirect_uri, even for a client with one registered', async () => {
    const { at, status } = await authorizeAs(new UserAgent(), { redirect_uri: '' });
    assert.equal(at.origin, issuer.url, 'no redirect to the client');
    assert.equal(status, 400);
  });

  it('answers prompt=none without a session with login_required at the client', async () => {
    const { at } = await authorizeAs(new UserAgent(), { prompt: 'none' });
    assert.equal(at.origin + at.pathname, APP_REDIRECT_URI);
    assert.equal(at.searchParams.get('error'), 'login_required');
  });

  it('asks for the password again with max_age=0 or prompt=login, though the browser has a session', async () => {
    const { agent } = await codeFlow();
    for (const parameters of [{ max_age: '0' }, { prompt: 'login' }] as Array<Record<string, string>>) {
      const { at, body } = await authorizeAs(agent, parameters);
      assert.match(at.pathname, /^\/interaction\//, JSON.stringify(parameters));
      assert.match(body, /name="password"/);
    }
  });

  it('fills in the address from login_hint on the sign-in page', async () => {
    const { body } = await authorizeAs(new UserAgent(), { login_hint: user.email, prompt: 'login' });
    assert.ok(body.includes(`value="${user.email}"`), 'the email field holds the hint');
    const ignored = await authorizeAs(new UserAgent(), { login_hint: '"><script>x</script>', prompt: 'login' });
    assert.doesNotMatch(ignored.body, /<script>x/);
  });

  it('refuses a code used twice', async () => {
    const { callbackUrl, verifier, state } = await issuer.authorize(config, user, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid email',
    });
    await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    await assert.rejects(
      client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state }),
      (error: client.ResponseBodyError) => error.error === 'invalid_grant',
    );
  });

  it('puts profile claims in the ID token when the claims parameter asks for them, and only then', async () => {
    await profiles({ users: userRepository(issuer.service.database.client), events: issuer.issuer.events }).update(
      user.id,
      { name: 'Ada Lovelace', preferred_username: 'ada' },
      { actor: 'test' },
    );
    const asked = await codeFlow({
      scope: 'openid profile',
      claims: JSON.stringify({
        id_token: { name: null, preferred_username: { essential: true }, auth_time: { essential: true } },
        userinfo: { email: null },
      }),
    });
    const idToken = asked.tokens.claims()!;
    assert.equal(idToken.name, 'Ada Lovelace');
    assert.equal(idToken.preferred_username, 'ada');
    assert.equal(idToken.given_name, undefined, 'a claim not asked for stays at userinfo');
    assert.equal((await client.fetchUserInfo(config, asked.tokens.access_token, user.id)).email, user.email);
    const notAsked = await codeFlow({ scope: 'openid profile' });
    assert.equal(
      notAsked.tokens.claims()!.name,
      undefined,
      'without the claims parameter, profile claims are at userinfo',
    );
  });

  it('never releases by the claims parameter a claim of a scope the client is not registered for', async () => {
    const narrow = await issuer.createClient({
      type: 'web',
      redirectUris: [APP_REDIRECT_URI],
      firstParty: true,
      scopes: ['openid', 'email'],
    });
    const narrowConfig = await issuer.discover(narrow.id, narrow.secret);
    const { callbackUrl, verifier, state } = await issuer.authorize(narrowConfig, user, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid email',
      claims: JSON.stringify({ id_token: { name: null, email: null }, userinfo: { name: null } }),
    });
    const tokens = await client.authorizationCodeGrant(narrowConfig, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    assert.equal(tokens.claims()!.email, user.email);
    assert.equal(tokens.claims()!.name, undefined);
    assert.equal((await client.fetchUserInfo(narrowConfig, tokens.access_token, user.id)).name, undefined);
  });

  it('refuses a request object cleanly, with request_not_supported at the client', async () => {
    const { at } = await authorizeAs(new UserAgent(), { request: 'eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.' });
    assert.equal(at.origin + at.pathname, APP_REDIRECT_URI);
    assert.equal(at.searchParams.get('error'), 'request_not_supported');
  });

  it('signs out through RP-initiated logout with id_token_hint, returning to the registered post-logout URI with its state', async () => {
    const { tokens, agent } = await codeFlow();
    const page = await agent.request(
      client.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: SIGNED_OUT_URI,
        state: 'bye',
      }),
    );
    const html = await page.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    assert.ok(action && xsrf, `a confirmation form: ${html.slice(0, 300)}`);
    const { url } = await agent.follow(new URL(action, issuer.url), issuer.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: issuer.url },
      body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
    });
    assert.equal(url.origin + url.pathname, SIGNED_OUT_URI);
    assert.equal(url.searchParams.get('state'), 'bye');
    const again = await authorizeAs(agent, { prompt: 'none' });
    assert.equal(again.at.searchParams.get('error'), 'login_required', 'the session is gone');
  });

  it('refuses a post-logout URI the client did not register, and redirects nowhere', async () => {
    const { tokens, agent } = await codeFlow();
    const page = await agent.request(
      client.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: 'https://evil.example/',
      }),
    );
    assert.equal(page.status, 400);
    assert.equal(page.headers.get('location'), null);
  });

  it('completes the code flow without PKCE for a confidential client registered without it, as the certification plans run', async () => {
    const noPkce = await issuer.createClient({
      type: 'web',
      redirectUris: [APP_REDIRECT_URI],
      firstParty: true,
      pkceRequired: false,
    });
    const agent = new UserAgent();
    const start = new URL(`${issuer.url}/auth`);
    start.search = new URLSearchParams({
      client_id: noPkce.id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: APP_REDIRECT_URI,
      state: 'cert',
      nonce: 'n-0S6_WzA2Mj',
    }).toString();
    const { response, url: at } = await agent.follow(start, issuer.url);
    await response.body?.cancel();
    const { url: callback } = await agent.submitForm(
      new URL(`${at.pathname}/login`, issuer.url),
      { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    assert.equal(callback.origin + callback.pathname, APP_REDIRECT_URI);
    const tokens = await fetch(`${issuer.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${noPkce.id}:${noPkce.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: APP_REDIRECT_URI,
      }),
    });
    assert.equal(tokens.status, 200);
    assert.ok(((await tokens.json()) as { id_token?: string }).id_token);
  });

  it('requires PKCE from a confidential client registered the default way, and refuses to register a public client without it', async () => {
    const { at } = await authorizeAs(new UserAgent(), { code_challenge: '', code_challenge_method: '' });
    assert.equal(at.searchParams.get('error'), 'invalid_request');
    await assert.rejects(
      issuer.createClient({ type: 'spa', redirectUris: [APP_REDIRECT_URI], pkceRequired: false }),
      /only a confidential web client may be registered without PKCE/,
    );
  });

  it('answers revocation with application/json', async () => {
    const { tokens } = await codeFlow({ scope: 'openid offline_access' });
    const response = await fetch(`${issuer.url}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: tokens.refresh_token! }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  });

  it('answers introspection without client authentication with 401 invalid_client', async () => {
    const response = await fetch(`${issuer.url}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=whatever',
    });
    assert.equal(response.status, 401);
    assert.ok(response.headers.get('www-authenticate'));
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_client');
  });
});
