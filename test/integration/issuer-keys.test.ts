import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as client from 'openid-client';
import { sealer } from '../../src/shared/crypto/sealing.ts';
import { keyRing } from '../../src/issuer/keys/key-ring.ts';
import { signingKeyRepository } from '../../src/issuer/keys/signing-key-repository.ts';
import { needsPostgres, TEST_KEY_ENCRYPTION_KEY } from '../support/environment.ts';
import { startIssuer, type IssuerHarness } from '../support/issuer-harness.ts';

const LEAD_SECONDS = 2;

/** Rotation as operators run it (`latchkey keys rotate`), against a running issuer. */
describe('signing key rotation', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;

  before(async () => {
    issuer = await startIssuer({ KEY_PUBLISH_LEAD_SECONDS: String(LEAD_SECONDS), KEY_RELOAD_INTERVAL_SECONDS: '0.2' });
    const service = await issuer.createClient({ type: 'service' });
    config = await issuer.discover(service.id, service.secret);
  });
  after(() => issuer.stop());

  const ring = () =>
    keyRing(signingKeyRepository(issuer.service.database.client), sealer(Buffer.from(TEST_KEY_ENCRYPTION_KEY, 'hex')), {
      publishLeadSeconds: LEAD_SECONDS,
      tokenRetentionSeconds: 660,
      cookieRetentionSeconds: 3_600,
    });
  const jwks = async (url = issuer.url) => (await (await fetch(`${url}/jwks`)).json()) as JSONWebKeySet;
  const token = async () => (await client.clientCredentialsGrant(config, { scope: 'tasks:work' })).access_token;
  const verifies = async (accessToken: string) => {
    try {
      await jwtVerify(accessToken, createLocalJWKSet(await jwks()), { issuer: issuer.url, typ: 'at+jwt' });
      return true;
    } catch {
      return false;
    }
  };
  const waitFor = async (condition: () => Promise<boolean>, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  it('publishes a new key before it signs, then signs with it, and keeps verifying tokens signed just before', async () => {
    const before = await token();
    const oldKid = decodeProtectedHeader(before).kid!;
    const [newEs256] = await ring().rotate();
    // Published at once (this instance polls every 0.2 s), but not yet signing.
    await waitFor(async () => (await jwks()).keys.some((key) => key.kid === newEs256));
    assert.equal(decodeProtectedHeader(await token()).kid, oldKid, 'the old key signs during the publish lead');
    // After the lead, the new key signs; the old one stays published for the tokens it signed.
    await waitFor(async () => decodeProtectedHeader(await token()).kid === newEs256);
    assert.ok(await verifies(before), 'a token signed just before the rotation verifies after it');
    assert.ok((await jwks()).keys.some((key) => key.kid === oldKid));
  });

  it('serves discovery and the JWKS with an ETag and Cache-Control, 304 to a client holding them, and a new ETag once the keys change', async () => {
    const first = await fetch(`${issuer.url}/jwks`);
    const etag = first.headers.get('etag');
    assert.match(etag ?? '', /^"[\w-]{27}"$/);
    // Cached for at most half the publish lead, so a verifier always sees a new key before it signs.
    assert.equal(first.headers.get('cache-control'), `public, max-age=${LEAD_SECONDS / 2}`);
    assert.equal(first.headers.get('content-type'), 'application/jwk-set+json; charset=utf-8');
    const body = await first.text();
    const again = await fetch(`${issuer.url}/jwks`);
    assert.equal(await again.text(), body, 'the same bytes');
    assert.equal(again.headers.get('etag'), etag);
    const conditional = await fetch(`${issuer.url}/jwks`, { headers: { 'if-none-match': etag! } });
    assert.equal(conditional.status, 304);
    assert.equal(await conditional.text(), '');

    const discovery = await fetch(`${issuer.url}/.well-known/openid-configuration`);
    const discoveryTag = discovery.headers.get('etag')!;
    assert.equal(discovery.headers.get('cache-control'), 'public, max-age=300');
    assert.equal(discovery.headers.get('access-control-allow-origin'), '*');
    assert.equal(((await discovery.json()) as { issuer: string }).issuer, issuer.url);
    const unchanged = await fetch(`${issuer.url}/.well-known/openid-configuration`, {
      headers: { 'if-none-match': discoveryTag },
    });
    assert.equal(unchanged.status, 304);

    const [added] = await ring().rotate();
    await waitFor(async () => (await jwks()).keys.some((key) => key.kid === added));
    const rotated = await fetch(`${issuer.url}/jwks`, { headers: { 'if-none-match': etag! } });
    assert.equal(rotated.status, 200, 'a client holding the old set gets the new one');
    assert.notEqual(rotated.headers.get('etag'), etag);
  });

  it('stops verifying tokens of a key once it has been removed after its retirement', async () => {
    const signed = await token();
    const kid = decodeProtectedHeader(signed).kid!;
    await ring().rotate();
    await waitFor(async () => decodeProtectedHeader(await token()).kid !== kid);
    // Fast-forward the retention: every token this key signed has expired by now.
    await issuer.service.database.client.signingKey.update({
      where: { kid },
      data: { removesAt: new Date(Date.now() - 1_000) },
    });
    await waitFor(async () => !(await jwks()).keys.some((key) => key.kid === kid));
    assert.equal(await verifies(signed), false);
  });

  it('rotates on its schedule without a command, and publishes the new key', async () => {
    // A rotation interval of one second stands in for thirty days.
    const scheduled = await startIssuer({
      KEY_PUBLISH_LEAD_SECONDS: String(LEAD_SECONDS),
      KEY_RELOAD_INTERVAL_SECONDS: '0.2',
      KEY_ROTATION_INTERVAL_DAYS: String(1 / 86_400),
    });
    try {
      const newest = async () =>
        (await scheduled.service.database.client.signingKey.findFirst({
          where: { purpose: 'token', alg: 'ES256' },
          orderBy: { createdAt: 'desc' },
        }))!.kid;
      const initial = await newest();
      await waitFor(async () => (await newest()) !== initial, 5_000);
      const rotated = await newest();
      await waitFor(async () => (await jwks(scheduled.url)).keys.some((key) => key.kid === rotated), 5_000);
    } finally {
      await scheduled.stop();
    }
  });

  it('lets every instance pick up a rotation made on another', { skip: needsPostgres }, async () => {
    const second = await startIssuer({
      KEY_PUBLISH_LEAD_SECONDS: String(LEAD_SECONDS),
      KEY_RELOAD_INTERVAL_SECONDS: '0.2',
    });
    try {
      const [created] = await ring().rotate();
      await waitFor(async () => (await jwks(second.url)).keys.some((key) => key.kid === created));
    } finally {
      await second.stop();
    }
  });
});
