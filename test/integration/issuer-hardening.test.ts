import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { startIssuer, type IssuerHarness } from '../support/issuer-harness.ts';

const REDIRECT = 'http://127.0.0.1:5173/callback';
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** Attacks on the token, introspection and device endpoints, each answered cleanly. */
describe('issuer hardening', () => {
  let issuer: IssuerHarness;

  before(async () => {
    issuer = await startIssuer();
  });
  after(() => issuer.stop());

  async function signedIn(type: 'spa' | 'web') {
    const app = await issuer.createClient({ type, redirectUris: [REDIRECT], firstParty: true });
    const config = await issuer.discover(app.id, app.secret);
    const user = await issuer.createUser();
    const { callbackUrl, verifier, state } = await issuer.authorize(config, user, { redirect_uri: REDIRECT });
    return { app, config, callbackUrl, verifier, state };
  }

  it('attack: a malformed %-escape in the Basic client id beside a just-rotated refresh token is answered, not left hanging', async () => {
    const { config, callbackUrl, verifier, state } = await signedIn('web');
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    await client.refreshTokenGrant(config, tokens.refresh_token!);
    const response = await fetch(`${issuer.url}/token`, {
      method: 'POST',
      headers: { ...form, authorization: basic('%zz', 'whatever') },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
      signal: AbortSignal.timeout(5_000),
    });
    assert.ok(response.status === 400 || response.status === 401, `status ${response.status}`);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
  });

  it('attack: POST /device without a session gets a page that sends the person back, not a 500', async () => {
    const response = await fetch(`${issuer.url}/device`, {
      method: 'POST',
      headers: form,
      body: 'user_code=BCDF-GHJK&xsrf=forged',
    });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /This page has expired/);
  });

  it("attack: a confidential client cannot introspect another client's refresh token (active: false)", async () => {
    const victim = await signedIn('web');
    const tokens = await client.authorizationCodeGrant(victim.config, victim.callbackUrl, {
      pkceCodeVerifier: victim.verifier,
      expectedState: victim.state,
    });
    const snoop = await issuer.createClient({ type: 'service' });
    const snoopConfig = await issuer.discover(snoop.id, snoop.secret);
    assert.deepEqual(await client.tokenIntrospection(snoopConfig, tokens.refresh_token!), { active: false });
    assert.equal(
      (await client.tokenIntrospection(victim.config, tokens.refresh_token!)).active,
      true,
      'its own client still can',
    );
  });

  it('attack: client_secret_post is refused for a client registered for client_secret_basic', async () => {
    const service = await issuer.createClient({ type: 'service' });
    const response = await fetch(`${issuer.url}/token`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: service.id,
        client_secret: service.secret!,
        scope: 'tasks:work',
      }),
    });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_client');
    const viaBasic = await fetch(`${issuer.url}/token`, {
      method: 'POST',
      headers: { ...form, authorization: basic(service.id, service.secret!) },
      body: 'grant_type=client_credentials&scope=tasks%3Awork',
    });
    assert.equal(viaBasic.status, 200);
  });

  it('attack: an authorization code is used up by a redemption with a wrong PKCE verifier', async () => {
    const { config, callbackUrl, verifier, state } = await signedIn('spa');
    await assert.rejects(
      client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: state,
      }),
      (error: client.ResponseBodyError) => error.error === 'invalid_grant',
    );
    await assert.rejects(
      client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state }),
      (error: client.ResponseBodyError) => error.error === 'invalid_grant',
    );
  });
});

describe('issuer hardening: client-authentication budget', () => {
  let issuer: IssuerHarness;

  before(async () => {
    // Its own cache prefix: the address's failure count must start at zero, whatever other tests did.
    issuer = await startIssuer({
      LOCKOUT_IP_MAX_FAILURES: '3',
      REDIS_KEY_PREFIX: `latchkey-test:${process.pid}:client-auth:`,
    });
  });
  after(() => issuer.stop());

  it('attack: guessing client secrets from one address stops with 429 once the budget is spent', async () => {
    const service = await issuer.createClient({ type: 'service' });
    const attempt = (secret: string) =>
      fetch(`${issuer.url}/token`, {
        method: 'POST',
        headers: { ...form, authorization: basic(service.id, secret) },
        body: 'grant_type=client_credentials',
      });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await attempt(`guess-${i}`)).status);
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    const right = await attempt(service.secret!);
    assert.equal(right.status, 429, 'no secret is compared from that address until the window ends');
    assert.ok(Number(right.headers.get('retry-after')) > 0);
    assert.equal(((await right.json()) as { error: string }).error, 'invalid_request');
  });
});
