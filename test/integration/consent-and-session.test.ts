import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { APP_REDIRECT_URI, startIssuerWithApp, TEST_PASSWORD, type IssuerHarness } from '../support/issuer-harness.ts';
import { parseForm, UserAgent } from '../support/user-agent.ts';

describe('consent for third-party apps', () => {
  let issuer: IssuerHarness;
  let thirdParty: client.Configuration;

  before(async () => {
    ({ issuer } = await startIssuerWithApp());
    const created = await issuer.createClient({
      name: 'Planner Deluxe',
      type: 'spa',
      redirectUris: [APP_REDIRECT_URI],
      firstParty: false,
    });
    thirdParty = await issuer.discover(created.id);
  });
  after(() => issuer.stop());

  /** Signs a new user in for the third-party app and returns the consent page shown after the password. */
  async function reachConsent(app = thirdParty) {
    const user = await issuer.createUser();
    const agent = new UserAgent();
    const verifier = client.randomPKCECodeVerifier();
    const authorizationUrl = client.buildAuthorizationUrl(app, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid email tasks:read',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 's1',
    });
    const start = await agent.follow(authorizationUrl, issuer.url);
    await start.response.body?.cancel();
    const { response, url } = await agent.submitForm(
      new URL(`${start.url.pathname}/login`, issuer.url),
      { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    return { agent, url, html: await response.text(), verifier, authorizationUrl, user };
  }

  it('names the app and says in words what each scope allows', async () => {
    const { html } = await reachConsent();
    assert.match(html, /Allow access\?/);
    assert.match(html, /Planner Deluxe/);
    assert.match(html, /See your email address/);
    assert.match(html, /See your tasks/);
  });

  it('shows the logo of the app, its home page, home page, privacy policy and terms, loading the logo from its origin alone', async () => {
    const created = await issuer.createClient({
      name: 'Planner With Links',
      type: 'spa',
      redirectUris: [APP_REDIRECT_URI],
      logoUri: 'https://cdn.planner.example/logo.png',
      clientUri: 'https://planner.example',
      policyUri: 'https://planner.example/privacy',
      tosUri: 'https://planner.example/terms',
    });
    const agent = new UserAgent();
    const user = await issuer.createUser();
    const app = await issuer.discover(created.id);
    const start = await agent.follow(
      client.buildAuthorizationUrl(app, {
        redirect_uri: APP_REDIRECT_URI,
        scope: 'openid email',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }),
      issuer.url,
    );
    await start.response.body?.cancel();
    const { response } = await agent.submitForm(
      new URL(`${start.url.pathname}/login`, issuer.url),
      { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    const csp = response.headers.get('content-security-policy') ?? '';
    const html = await response.text();
    assert.match(html, /<img class="client-logo" src="https:\/\/cdn\.planner\.example\/logo\.png"/);
    assert.match(html, /href="https:\/\/planner\.example\/privacy"[^>]*>privacy policy</);
    assert.match(html, /href="https:\/\/planner\.example\/terms"[^>]*>terms of service</);
    assert.match(csp, /img-src 'self' data: https:\/\/cdn\.planner\.example;/, 'the origin of the logo, and no other');
  });

  it('returns access_denied to the app when the person denies', async () => {
    const { agent, url } = await reachConsent();
    const denied = await agent.submitForm(
      new URL(`${url.pathname}/consent`, issuer.url),
      { csrf: agent.formToken(), decision: 'deny' },
      issuer.url,
    );
    assert.equal(denied.url.origin + denied.url.pathname, APP_REDIRECT_URI);
    assert.equal(denied.url.searchParams.get('error'), 'access_denied');
    assert.equal(denied.url.searchParams.get('code'), null);
  });

  it('shows who is signed in, and "Not you?" signs in as someone else for the same request', async () => {
    const { agent, url, html, verifier, user } = await reachConsent();
    assert.match(html, new RegExp(`Signed in as <strong>${user.email.replace(/[.+]/g, '\\$&')}</strong>`));
    const switching = await agent.submitForm(
      new URL(`${url.pathname}/switch-account`, issuer.url),
      { csrf: agent.formToken() },
      issuer.url,
    );
    assert.match(await switching.response.text(), /Sign in as someone else/);
    const other = await issuer.createUser();
    const signedIn = await agent.submitForm(
      new URL(`${url.pathname}/login`, issuer.url),
      { csrf: agent.formToken(), email: other.email, password: TEST_PASSWORD },
      issuer.url,
    );
    // oidc-provider ends the first account's session with a self-submitting form, then resumes.
    const endForm = parseForm(await signedIn.response.text());
    assert.match(endForm.action, /\/session\/end\/confirm$/);
    const resumed = await agent.submitForm(new URL(endForm.action, issuer.url), endForm.fields, issuer.url);
    const consentHtml = await resumed.response.text();
    assert.match(consentHtml, new RegExp(`Signed in as <strong>${other.email.replace(/[.+]/g, '\\$&')}</strong>`));
    const allowed = await agent.submitForm(
      new URL(`${resumed.url.pathname}/consent`, issuer.url),
      { csrf: agent.formToken(), decision: 'allow' },
      issuer.url,
    );
    const tokens = await client.authorizationCodeGrant(thirdParty, allowed.url, {
      pkceCodeVerifier: verifier,
      expectedState: 's1',
    });
    assert.equal(tokens.claims()?.sub, other.id);
  });

  it('issues a code once allowed, and does not ask again next time', async () => {
    const { agent, url, verifier, authorizationUrl } = await reachConsent();
    const allowed = await agent.submitForm(
      new URL(`${url.pathname}/consent`, issuer.url),
      { csrf: agent.formToken(), decision: 'allow' },
      issuer.url,
    );
    const tokens = await client.authorizationCodeGrant(thirdParty, allowed.url, {
      pkceCodeVerifier: verifier,
      expectedState: 's1',
    });
    assert.match(String(tokens.scope), /tasks:read/);
    const again = await agent.follow(authorizationUrl, issuer.url);
    await again.response.body?.cancel();
    assert.equal(again.url.origin + again.url.pathname, APP_REDIRECT_URI);
    assert.ok(again.url.searchParams.get('code'));
  });
});

describe('browser sessions', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;

  before(async () => {
    ({ issuer, config } = await startIssuerWithApp());
  });
  after(() => issuer.stop());

  const sessionCookie = (agent: UserAgent) => agent.cookie('latchkey.session');

  it('gets a new session id at each sign-in, so a planted session cookie is worth nothing', async () => {
    const user = await issuer.createUser();
    const { agent } = await issuer.authorize(config, user, { redirect_uri: APP_REDIRECT_URI });
    const first = sessionCookie(agent);
    assert.ok(first);
    const verifier = client.randomPKCECodeVerifier();
    const start = await agent.follow(
      client.buildAuthorizationUrl(config, {
        redirect_uri: APP_REDIRECT_URI,
        scope: 'openid',
        prompt: 'login',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }),
      issuer.url,
    );
    await start.response.body?.cancel();
    const done = await agent.submitForm(
      new URL(`${start.url.pathname}/login`, issuer.url),
      { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    await done.response.body?.cancel();
    const second = sessionCookie(agent);
    assert.ok(second);
    assert.notEqual(second, first);
  });

  /** A signed-in browser and the ID token its app holds. */
  async function signedInWithIdToken() {
    const user = await issuer.createUser();
    const { agent, callbackUrl, verifier, state } = await issuer.authorize(config, user, {
      redirect_uri: APP_REDIRECT_URI,
    });
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    return { agent, idToken: tokens.id_token! };
  }

  it("confirms an app's sign-out carrying a valid ID token of the signed-in account without asking again", async () => {
    const { agent, idToken } = await signedInWithIdToken();
    const page = await agent.request(new URL(`/session/end?id_token_hint=${idToken}`, issuer.url));
    const html = await page.text();
    assert.match(html, /Signing you out of Latchkey/);
    assert.doesNotMatch(html, /Stay signed in/);
    const nonce = /<script nonce="([^"]+)">/.exec(html)?.[1];
    assert.ok(nonce, 'a script clicks the sign-out button');
    assert.match(
      page.headers.get('content-security-policy') ?? '',
      new RegExp(`script-src 'nonce-${nonce.replace(/[+/]/g, '\\$&')}'`),
    );
    // Without script, the same form signs out by its button.
    const form = parseForm(html);
    const done = await agent.submitForm(
      new URL(form.action, issuer.url),
      { ...form.fields, logout: 'yes' },
      issuer.url,
    );
    assert.match(await done.response.text(), /You are signed out/);
    assert.equal(agent.cookie('latchkey.session') ?? '', '', 'the session cookie is gone');
  });

  it('asks before signing out when the request carries no ID token, or one of another account', async () => {
    const { agent } = await signedInWithIdToken();
    const { idToken: someoneElses } = await signedInWithIdToken();
    for (const query of ['', `?id_token_hint=${someoneElses}`]) {
      const page = await agent.request(new URL(`/session/end${query}`, issuer.url));
      const html = await page.text();
      assert.match(html, /Sign out of Latchkey in this browser\?/);
      assert.match(html, /Stay signed in/);
      assert.doesNotMatch(html, /<script/);
      assert.doesNotMatch(page.headers.get('content-security-policy') ?? '', /script-src/);
    }
  });

  it('sets the session cookie HttpOnly and SameSite=Lax', async () => {
    const user = await issuer.createUser();
    const { agent } = await issuer.authorize(config, user, { redirect_uri: APP_REDIRECT_URI });
    const header = agent.setCookieHeaders().find((value) => value.startsWith('latchkey.session='));
    assert.ok(header);
    assert.match(header, /httponly/i);
    assert.match(header, /samesite=lax/i);
  });

  it('refuses response_type=none to an ordinary app (only the account pages use it)', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid',
      response_type: 'none',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
    const response = await fetch(url, { redirect: 'manual' });
    const location = response.headers.get('location');
    assert.ok(location, 'an error redirect');
    const error = new URL(location).searchParams;
    assert.equal(error.get('code'), null);
    assert.match(`${error.get('error')} ${error.get('error_description')}`, /response_type/);
  });
});
