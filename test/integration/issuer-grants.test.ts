import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { startIssuer, type IssuerHarness } from '../support/issuer-harness.ts';

const SPA_REDIRECT = 'http://127.0.0.1:5173/callback';

describe('issuer grants', () => {
  let issuer: IssuerHarness;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  before(async () => {
    issuer = await startIssuer();
    jwks = createRemoteJWKSet(new URL(`${issuer.url}/jwks`));
  });
  after(() => issuer.stop());

  const verifyAccessToken = (token: string) =>
    jwtVerify(token, jwks, { issuer: issuer.url, audience: issuer.taskApi, typ: 'at+jwt', algorithms: ['ES256'] });

  it('issues a client-credentials JWT for the task API with the service scope and a client subject no user can have', async () => {
    const service = await issuer.createClient({ type: 'service' });
    const config = await issuer.discover(service.id, service.secret);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'tasks:work' });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    const { payload, protectedHeader } = await verifyAccessToken(tokens.access_token);
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.client_id, service.id);
    assert.equal(payload.scope, 'tasks:work');
    assert.equal(payload.sub, `client:${service.id}`, 'a service subject can never be read as a user id');
    assert.ok(typeof payload.jti === 'string' && payload.exp! - payload.iat! === 600);
    assert.equal(tokens.refresh_token, undefined);
  });

  it('issues a user JWT with roles, auth_time and amr through Authorization Code + PKCE', async () => {
    const spa = await issuer.createClient({ type: 'spa', redirectUris: [SPA_REDIRECT], firstParty: true });
    const user = await issuer.createUser({ role: 'admin' });
    const config = await issuer.discover(spa.id);
    const { callbackUrl, verifier, state } = await issuer.authorize(config, user, { redirect_uri: SPA_REDIRECT });
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const { payload } = await verifyAccessToken(tokens.access_token);
    assert.equal(payload.sub, user.id);
    assert.equal(payload.client_id, spa.id);
    assert.deepEqual(payload.roles, ['admin']);
    assert.deepEqual(payload.amr, ['pwd']);
    assert.ok(typeof payload.auth_time === 'number');
    assert.equal(payload.scope, 'tasks:read tasks:write');
    assert.equal(tokens.claims()?.sub, user.id);
    assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'RS256');
    assert.ok(tokens.refresh_token);
  });
});
