import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { consumedRefreshTokenVerdict, refreshGrace } from '../../src/issuer/oidc/refresh-grace.ts';
import { forProvider, type TokenRequest } from '../../src/issuer/oidc/token-request.ts';
import { MemoryCache } from '../../src/shared/cache/memory-cache.ts';

const facts = { owner: 'app', presenter: 'app', usedMsAgo: 500, graceSeconds: 10, inRequest: true, graceReplay: false };

function tokenRequest(form: Record<string, string>, headers: Record<string, string> = {}): TokenRequest {
  const req = new IncomingMessage(new Socket());
  req.headers = headers;
  return { req, res: new ServerResponse(req), form: new URLSearchParams(form), marks: new Set() };
}

describe('refresh-token reuse verdict', () => {
  it('calls a replay by another client reuse by another client, inside the window or not', () => {
    assert.equal(consumedRefreshTokenVerdict({ ...facts, presenter: 'intruder' }), 'reuse-by-other-client');
    assert.equal(
      consumedRefreshTokenVerdict({ ...facts, presenter: 'intruder', usedMsAgo: 60_000 }),
      'reuse-by-other-client',
    );
  });

  it('calls the same client inside the window, outside a grace replay, a race', () => {
    assert.equal(consumedRefreshTokenVerdict(facts), 'race');
  });

  it('calls the same client after the window reuse', () => {
    assert.equal(consumedRefreshTokenVerdict({ ...facts, usedMsAgo: 10_001 }), 'reuse');
  });

  it('calls a grace replay that finds its successor used reuse, never a race', () => {
    assert.equal(consumedRefreshTokenVerdict({ ...facts, graceReplay: true }), 'reuse');
  });

  it('calls a find outside a token request reuse', () => {
    assert.equal(consumedRefreshTokenVerdict({ ...facts, presenter: undefined, inRequest: false }), 'reuse');
  });
});

describe('refresh grace on the token request', () => {
  let cache = new MemoryCache();
  afterEach(async () => {
    await cache.close();
    cache = new MemoryCache();
  });
  const revoked: string[] = [];
  const grace = () => refreshGrace({ cache, graceSeconds: 10, revokeGrant: async (id) => void revoked.push(id) });

  it('puts the successor into a replay by the same client and marks it as a grace replay', async () => {
    const subject = grace();
    await subject.remember('old-token', 'new-token', 'app', 'grant-1');
    const request = tokenRequest({ grant_type: 'refresh_token', refresh_token: 'old-token', client_id: 'app' });
    await subject.applyToTokenRequest(request);
    assert.equal(request.form.get('refresh_token'), 'new-token');
    assert.equal(request.marks.size, 1);
    const replay = forProvider(request);
    assert.equal(replay.headers['content-length'], String(request.form.toString().length));
  });

  it('revokes the grant when another client replays the rotated token, and leaves the form alone', async () => {
    const subject = grace();
    await subject.remember('old-token', 'new-token', 'app', 'grant-2');
    const basic = `Basic ${Buffer.from('intruder:secret').toString('base64')}`;
    const request = tokenRequest({ grant_type: 'refresh_token', refresh_token: 'old-token' }, { authorization: basic });
    await subject.applyToTokenRequest(request);
    assert.equal(request.form.get('refresh_token'), 'old-token');
    assert.deepEqual(revoked.slice(-1), ['grant-2']);
  });

  it('stores the successor sealed: nothing written to the cache holds either token', async () => {
    const written: string[] = [];
    const set = cache.set.bind(cache);
    cache.set = async (key, value, ttl) => {
      written.push(key, value);
      return set(key, value, ttl);
    };
    await grace().remember('old-token-value', 'successor-value', 'app', 'grant-3');
    assert.ok(written.length > 0);
    for (const secret of ['old-token-value', 'successor-value'])
      assert.ok(!written.some((entry) => entry.includes(secret)), `${secret} was written in the clear`);
  });

  it('keeps nothing when the window is zero', async () => {
    const subject = refreshGrace({ cache, graceSeconds: 0, revokeGrant: async () => undefined });
    await subject.remember('old-token', 'new-token', 'app', 'grant-4');
    const request = tokenRequest({ grant_type: 'refresh_token', refresh_token: 'old-token', client_id: 'app' });
    await subject.applyToTokenRequest(request);
    assert.equal(request.form.get('refresh_token'), 'old-token');
  });
});
