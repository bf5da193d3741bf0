import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose';
import * as client from 'openid-client';
import { startIssuer, type IssuerHarness } from '../support/issuer-harness.ts';

const REDIRECT = 'http://127.0.0.1:5173/callback';

describe('issuer endpoints', () => {
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
    return {
      config,
      user,
      tokens: await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      }),
    };
  }

  it('advertises only the code response type (and none, for the account pages) and S256 in discovery', async () => {
    const metadata = (await (await fetch(`${issuer.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(metadata.response_types_supported, ['code', 'none']);
    assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
    assert.ok(metadata.device_authorization_endpoint);
    assert.ok(metadata.introspection_endpoint && metadata.revocation_endpoint && metadata.end_session_endpoint);
    assert.ok((metadata.dpop_signing_alg_values_supported as string[]).includes('ES256'));
  });

  it('binds client-credentials tokens to a DPoP key when the client sends a proof', async () => {
    const service = await issuer.createClient({ type: 'service' });
    const config = await issuer.discover(service.id, service.secret);
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const tokens = await client.clientCredentialsGrant(
      config,
      { scope: 'tasks:work' },
      { DPoP: client.getDPoPHandle(config, keyPair) },
    );
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    const cnf = decodeJwt(tokens.access_token).cnf as { jkt: string };
    assert.equal(cnf.jkt, await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)));
  });

  it('lets a confidential client introspect its refresh token', async () => {
    const { config, tokens, user } = await signedIn('web');
    const result = await client.tokenIntrospection(config, tokens.refresh_token!);
    assert.equal(result.active, true);
    assert.equal(result.sub, user.id);
  });

  it('tells a public client nothing about a token, not even its own (active: false)', async () => {
    const { config, tokens } = await signedIn('spa');
    assert.deepEqual(await client.tokenIntrospection(config, tokens.refresh_token!), { active: false });
  });

  it('revokes a refresh token so it no longer refreshes', async () => {
    const { config, tokens } = await signedIn('spa');
    await client.tokenRevocation(config, tokens.refresh_token!);
    await assert.rejects(
      client.refreshTokenGrant(config, tokens.refresh_token!),
      (error: client.ResponseBodyError) => error.error === 'invalid_grant',
    );
  });

  it('answers userinfo for the signed-in user with the email claims', async () => {
    const app = await issuer.createClient({ type: 'spa', redirectUris: [REDIRECT], firstParty: true });
    const config = await issuer.discover(app.id);
    const user = await issuer.createUser();
    const { callbackUrl, verifier, state } = await issuer.authorize(config, user, {
      redirect_uri: REDIRECT,
      scope: 'openid email',
    });
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const info = await client.fetchUserInfo(config, tokens.access_token, user.id);
    assert.equal(info.email, user.email);
    assert.equal(info.email_verified, true);
  });

  it('never shows internal error details to a client', async () => {
    const response = await fetch(`${issuer.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=refresh_token&refresh_token=%00%FF&client_id=nope',
    });
    const text = await response.text();
    assert.ok(response.status >= 400 && response.status < 500, `status ${response.status}`);
    assert.doesNotMatch(text, /prisma|SELECT|at .*\.ts:\d+|stack/i);
  });
});
