import assert from 'node:assert/strict';
import { decodeJwt, generateKeyPair, exportJWK } from 'jose';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { needsRedis } from '../support/environment.ts';
import { startIssuer, type IssuerHarness } from '../support/issuer-harness.ts';
import { parseForm } from '../support/user-agent.ts';

const REDIRECT = 'http://127.0.0.1:5173/callback';
const LOGOUT_REDIRECT = 'http://127.0.0.1:5173/signed-out';
const isInvalidGrant = (error: client.ResponseBodyError) => error.error === 'invalid_grant';

/** Runs `work` with the process clock moved forward: the issuer under test runs in this process. */
async function later<T>(seconds: number, work: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  Date.now = () => realNow() + seconds * 1000;
  try {
    return await work();
  } finally {
    Date.now = realNow;
  }
}

describe('issuer lifetimes, client authentication and sessions', () => {
  let issuer: IssuerHarness;
  let spa: { id: string };
  let config: client.Configuration;

  before(async () => {
    issuer = await startIssuer({ REFRESH_TOKEN_IDLE_TTL_SECONDS: '3600', REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS: '7200' });
    spa = await issuer.createClient({
      type: 'spa',
      redirectUris: [REDIRECT],
      postLogoutRedirectUris: [LOGOUT_REDIRECT],
      firstParty: true,
    });
    config = await issuer.discover(spa.id);
  });
  after(() => issuer.stop());

  async function signIn() {
    const user = await issuer.createUser();
    const { callbackUrl, verifier, state, agent } = await issuer.authorize(config, user, { redirect_uri: REDIRECT });
    return {
      agent,
      tokens: await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      }),
    };
  }

  it('gives a client its own access-token lifetime, for the API and at the token endpoint, and the default to others', async () => {
    const short = await issuer.createClient({ type: 'service', accessTokenTtlSeconds: 120 });
    const usual = await issuer.createClient({ type: 'service' });
    const lifetimeOf = async (app: { id: string; secret?: string }) => {
      const tokens = await client.clientCredentialsGrant(await issuer.discover(app.id, app.secret), {
        scope: 'tasks:work',
      });
      const claims = decodeJwt(tokens.access_token);
      return { expiresIn: tokens.expires_in, lifetime: claims.exp! - claims.iat! };
    };
    assert.deepEqual(await lifetimeOf(short), { expiresIn: 120, lifetime: 120 });
    assert.deepEqual(await lifetimeOf(usual), { expiresIn: 600, lifetime: 600 });
  });
  it('expires a refresh token left unused for its idle lifetime', async () => {
    const { tokens } = await signIn();
    await later(3_601, () => assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token!), isInvalidGrant));
  });

  it('ends a grant at its absolute lifetime however often it was rotated', async () => {
    const { tokens } = await signIn();
    let refreshToken = tokens.refresh_token!;
    // Rotate every 50 minutes: always inside the idle lifetime.
    for (const minutes of [50, 100])
      refreshToken = (await later(minutes * 60, () => client.refreshTokenGrant(config, refreshToken))).refresh_token!;
    await later(7_201, () => assert.rejects(client.refreshTokenGrant(config, refreshToken), isInvalidGrant));
  });

  it('authenticates a service with private_key_jwt instead of a secret', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const service = await issuer.createClient({
      type: 'service',
      jwks: { keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' }] },
    });
    assert.equal(service.secret, undefined);
    const keyed = await client.discovery(new URL(issuer.url), service.id, undefined, client.PrivateKeyJwt(privateKey), {
      execute: [client.allowInsecureRequests],
    });
    const tokens = await client.clientCredentialsGrant(keyed, { scope: 'tasks:work' });
    assert.ok(tokens.access_token);
  });

  it('allows CORS on the token endpoint from the origin a browser app redirects to, and no other', async () => {
    const preflight = (origin: string) =>
      fetch(`${issuer.url}/token`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    const from = async (origin: string) =>
      (
        await fetch(`${issuer.url}/token`, {
          method: 'POST',
          headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: spa.id }),
        })
      ).headers.get('access-control-allow-origin');
    assert.ok((await preflight('http://127.0.0.1:5173')).status < 300);
    assert.equal(await from('http://127.0.0.1:5173'), 'http://127.0.0.1:5173');
    assert.equal(await from('https://evil.example'), null);
  });

  it('signs out through RP-initiated logout, returns to the registered post-logout URI, and ends the refresh token', async () => {
    const { agent, tokens } = await signIn();
    const endSession = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: LOGOUT_REDIRECT,
      state: 'bye',
    });
    const confirm = await agent.request(endSession);
    const form = parseForm(await confirm.text());
    const done = await agent.submitForm(
      new URL(form.action, issuer.url),
      { ...form.fields, logout: 'yes' },
      issuer.url,
    );
    await done.response.body?.cancel();
    assert.equal(`${done.url.origin}${done.url.pathname}`, LOGOUT_REDIRECT);
    assert.equal(done.url.searchParams.get('state'), 'bye');
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token!), isInvalidGrant);
  });

  it('keeps grants and refresh tokens when Redis loses everything', { skip: needsRedis }, async () => {
    const { tokens } = await signIn();
    const redis = (
      issuer.service.cache as unknown as {
        redis: {
          keys(pattern: string): Promise<string[]>;
          del(...keys: string[]): Promise<number>;
          options: { keyPrefix: string };
        };
      }
    ).redis;
    const prefix = redis.options.keyPrefix;
    const keys = (await redis.keys(`${prefix}*`)).map((key) => key.slice(prefix.length));
    if (keys.length) await redis.del(...keys);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    assert.ok(refreshed.access_token);
  });
});
