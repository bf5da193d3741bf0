import assert from 'node:assert/strict';
import { MAX_PASSWORD_LENGTH } from '../../src/accounts/password-policy.ts';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import argon2 from 'argon2';
import type * as client from 'openid-client';
import {
  openSignIn as open,
  startIssuerWithApp,
  TEST_PASSWORD,
  type IssuerHarness,
} from '../support/issuer-harness.ts';
import type { UserAgent } from '../support/user-agent.ts';

/** The sign-in pages' own defences: form tokens, origin checks, and the headers every page sends. */
describe('sign-in forms', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;

  before(async () => {
    ({ issuer, config } = await startIssuerWithApp());
  });
  after(() => issuer.stop());

  const openSignIn = () => open(issuer, config);
  const post = (agent: UserAgent, action: string, fields: Record<string, string>, origin?: string) =>
    agent.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(origin ? { origin } : {}) },
      body: new URLSearchParams(fields).toString(),
    });

  it('shows a person whose sign-in was lost from the cache a page saying it expired, not JSON', async () => {
    const { agent, response, interaction, action } = await openSignIn();
    const csrf = /name="csrf" value="([^"]+)"/.exec(await response.text())?.[1] ?? '';
    // What a Redis flush does to a sign-in in progress: its interaction record is gone.
    const uid = interaction.split('/').pop()!;
    await issuer.service.cache.delete(`oidc:Interaction:${createHash('sha256').update(uid).digest('base64url')}`);
    const lost = await agent.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: issuer.url, accept: 'text/html' },
      body: new URLSearchParams({ email: 'a@example.com', password: TEST_PASSWORD, csrf }).toString(),
    });
    assert.equal(lost.status, 400);
    assert.match(lost.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await lost.text(), /This sign-in has expired/);
  });

  it('keeps the address filled in after a refused password, escaped', async () => {
    const { agent, action } = await openSignIn();
    const typed = 'someone"><b>x</b>@example.com';
    const refused = await agent.submitForm(
      action,
      { csrf: agent.formToken(), email: typed, password: 'not the right one at all' },
      issuer.url,
    );
    assert.equal(refused.response.status, 401);
    const html = await refused.response.text();
    assert.ok(
      html.includes('value="someone&quot;&gt;&lt;b&gt;x&lt;/b&gt;@example.com"'),
      'the address is back in the field, escaped',
    );
    assert.doesNotMatch(html, /<b>x<\/b>/);
  });

  it('limits the password field to the length the password policy accepts', async () => {
    const { response } = await openSignIn();
    const field = /<input type="password"[^>]*>/.exec(await response.text())?.[0] ?? '';
    assert.match(field, new RegExp(`maxlength="${MAX_PASSWORD_LENGTH}"`), field);
  });

  it('sends no-store, a nonce-based CSP without framing, and no referrer on the sign-in page', async () => {
    const { response } = await openSignIn();
    const csp = response.headers.get('content-security-policy')!;
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.ok((await response.text()).includes(`<style nonce="${nonce}">`));
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
  });

  it('refuses a sign-in form without its token', async () => {
    const user = await issuer.createUser();
    const { agent, response, action } = await openSignIn();
    await response.body?.cancel();
    const result = await post(
      agent,
      action,
      { email: user.email, password: TEST_PASSWORD, csrf: '' },
      new URL(issuer.url).origin,
    );
    assert.equal(result.status, 403);
  });

  it('refuses a sign-in form sent from another origin, even with its token', async () => {
    const user = await issuer.createUser();
    const { agent, response, action } = await openSignIn();
    const csrf = /name="csrf" value="([^"]+)"/.exec(await response.text())![1]!;
    const crossSite = await post(
      agent,
      action,
      { email: user.email, password: TEST_PASSWORD, csrf },
      'https://evil.example',
    );
    assert.equal(crossSite.status, 403);
    const noOrigin = await post(agent, action, { email: user.email, password: TEST_PASSWORD, csrf });
    assert.equal(noOrigin.status, 403);
    const nullOriginCrossSite = await agent.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'null', 'sec-fetch-site': 'cross-site' },
      body: new URLSearchParams({ email: user.email, password: TEST_PASSWORD, csrf }).toString(),
    });
    assert.equal(nullOriginCrossSite.status, 403);
  });

  it('answers a successful sign-in with 303 See Other', async () => {
    const user = await issuer.createUser();
    const { agent, response, action } = await openSignIn();
    const csrf = /name="csrf" value="([^"]+)"/.exec(await response.text())![1]!;
    const result = await post(
      agent,
      action,
      { email: user.email, password: TEST_PASSWORD, csrf },
      new URL(issuer.url).origin,
    );
    assert.equal(result.status, 303);
  });
});

describe('password hashes', () => {
  it('upgrades a hash made with weaker parameters at the next successful sign-in', async () => {
    const { issuer, config } = await startIssuerWithApp();
    try {
      const weak = await argon2.hash(TEST_PASSWORD, {
        type: argon2.argon2id,
        memoryCost: 8_192,
        timeCost: 1,
        parallelism: 1,
      });
      const user = await issuer.service.database.client.user.create({
        data: { email: `legacy-${Date.now()}@example.com`, passwordHash: weak, emailVerified: true },
      });
      const { agent, response, action } = await open(issuer, config);
      await response.body?.cancel();
      const result = await agent.submitForm(
        action,
        { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
        issuer.url,
      );
      await result.response.body?.cancel();
      const upgraded = (await issuer.service.database.client.user.findUnique({ where: { id: user.id } }))!
        .passwordHash!;
      assert.notEqual(upgraded, weak);
      assert.match(upgraded, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      assert.ok(await argon2.verify(upgraded, TEST_PASSWORD));
    } finally {
      await issuer.stop();
    }
  });
});
