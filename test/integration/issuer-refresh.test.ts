import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { deleteAccount, disableAccount } from '../../src/issuer/account-lifecycle.ts';
import { startIssuer, type IssuerHarness, type TestUser } from '../support/issuer-harness.ts';

const REDIRECT = 'http://127.0.0.1:5173/callback';
const isInvalidGrant = (error: client.ResponseBodyError) => error.error === 'invalid_grant';

/** Refresh-token rotation, reuse detection and its grace window (1 s here, 10 s by default). */
describe('refresh tokens', () => {
  let issuer: IssuerHarness;
  let spa: { id: string };
  let config: client.Configuration;

  before(async () => {
    issuer = await startIssuer({ REFRESH_REUSE_GRACE_SECONDS: '1' });
    spa = await issuer.createClient({ type: 'spa', redirectUris: [REDIRECT], firstParty: true });
    config = await issuer.discover(spa.id);
  });
  after(() => issuer.stop());

  async function signIn(user?: TestUser) {
    const who = user ?? (await issuer.createUser());
    const { callbackUrl, verifier, state } = await issuer.authorize(config, who, { redirect_uri: REDIRECT });
    return client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
  }

  it('rotates the refresh token on every use', async () => {
    const first = await signIn();
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    assert.ok(second.refresh_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    const third = await client.refreshTokenGrant(config, second.refresh_token);
    assert.notEqual(third.refresh_token, second.refresh_token);
  });

  it('answers a replay of the just-rotated token within the grace window with the same successor', async () => {
    const first = await signIn();
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    const replay = await client.refreshTokenGrant(config, first.refresh_token!);
    assert.equal(replay.refresh_token, second.refresh_token);
    assert.ok(replay.access_token);
    // The family lives on: the successor still works.
    assert.ok((await client.refreshTokenGrant(config, second.refresh_token!)).refresh_token);
  });

  it('revokes the whole grant when a rotated token is replayed after the grace window', async () => {
    const first = await signIn();
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await assert.rejects(client.refreshTokenGrant(config, first.refresh_token!), isInvalidGrant);
    await assert.rejects(
      client.refreshTokenGrant(config, second.refresh_token!),
      isInvalidGrant,
      'the successor dies with its family',
    );
  });

  it('revokes the whole grant when an older token (not the immediate predecessor) is replayed', async () => {
    const first = await signIn();
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    const third = await client.refreshTokenGrant(config, second.refresh_token!);
    await assert.rejects(client.refreshTokenGrant(config, first.refresh_token!), isInvalidGrant);
    await assert.rejects(client.refreshTokenGrant(config, third.refresh_token!), isInvalidGrant);
  });

  it('revokes the whole grant when another client replays a rotated token inside the window', async () => {
    const other = await issuer.createClient({ type: 'spa', redirectUris: [REDIRECT], firstParty: true });
    const otherConfig = await issuer.discover(other.id);
    const first = await signIn();
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    await assert.rejects(client.refreshTokenGrant(otherConfig, first.refresh_token!), isInvalidGrant);
    await assert.rejects(client.refreshTokenGrant(config, second.refresh_token!), isInvalidGrant);
  });

  it('revokes the whole grant when another client replays a rotated token after the window', async () => {
    const other = await issuer.createClient({ type: 'spa', redirectUris: [REDIRECT], firstParty: true });
    const otherConfig = await issuer.discover(other.id);
    const first = await signIn();
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await assert.rejects(client.refreshTokenGrant(otherConfig, first.refresh_token!), isInvalidGrant);
    await assert.rejects(client.refreshTokenGrant(config, second.refresh_token!), isInvalidGrant);
  });

  it('rotates once for twenty parallel refreshes of one token, and keeps the family alive', async () => {
    const first = await signIn();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${issuer.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: first.refresh_token!,
            client_id: spa.id,
          }),
        }).then(async (response) => ({
          status: response.status,
          body: (await response.json()) as { refresh_token?: string; error?: string },
        })),
      ),
    );
    const successors = new Set(results.filter((r) => r.status === 200).map((r) => r.body.refresh_token));
    assert.equal(successors.size, 1, 'one successor, however many requests won');
    for (const result of results.filter((r) => r.status !== 200)) assert.equal(result.body.error, 'invalid_grant');
    const [successor] = successors;
    assert.ok((await client.refreshTokenGrant(config, successor!)).access_token);
  });

  it('refuses the refresh of a user disabled by an administrator at once', async () => {
    const user = await issuer.createUser();
    const tokens = await signIn(user);
    const { revokedGrants } = await disableAccount(issuer.service.database.client, issuer.service.cache, user.id);
    assert.equal(revokedGrants, 1);
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token!), isInvalidGrant);
  });

  it('erases a deleted user: the refresh token, the grant and the account are gone, and nothing is left of its grants', async () => {
    const user = await issuer.createUser();
    const tokens = await signIn(user);
    const db = issuer.service.database.client;
    const unlock = { unlock: async () => undefined };
    const { revokedGrants } = await deleteAccount(db, issuer.service.cache, unlock, user.id);
    assert.equal(revokedGrants, 1);
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token!), isInvalidGrant);
    assert.equal(await db.user.findUnique({ where: { id: user.id } }), null);
    assert.equal(await db.oidcRecord.count({ where: { accountId: user.id } }), 0);
  });
});
