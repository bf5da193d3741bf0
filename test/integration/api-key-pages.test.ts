import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { GRANT_TYPES, TOKEN_TYPES } from '../../src/shared/protocol.ts';
import { mailText, type SmtpPeer } from '../support/smtp-peer.ts';
import {
  startIssuerWithApp,
  startIssuerWithMail,
  TEST_PASSWORD,
  type IssuerHarness,
  type TestUser,
} from '../support/issuer-harness.ts';
import { UserAgent } from '../support/user-agent.ts';

const KEY = /lk_pat_[0-9A-Za-z]{36}/;

describe('API keys on /account/keys, and the mail about them', () => {
  let issuer: IssuerHarness;
  let smtp: SmtpPeer;
  let stop: () => Promise<void>;
  let cliConfig: client.Configuration;

  before(async () => {
    ({ issuer, smtp, stop } = await startIssuerWithMail({ LOCKOUT_IP_MAX_FAILURES: '1000' }));
    const cli = await issuer.createClient({
      type: 'cli',
      grantTypes: [GRANT_TYPES.deviceCode, 'refresh_token', GRANT_TYPES.tokenExchange],
      tokenExchangeSubjectTypes: [TOKEN_TYPES.personalAccessToken],
    });
    cliConfig = await issuer.discover(cli.id);
  });
  after(() => stop());

  async function openKeys(user: TestUser, agent = new UserAgent()) {
    let { response, url } = await agent.follow(new URL('/account/keys', issuer.url), issuer.url);
    if (url.pathname.startsWith('/interaction/')) {
      await response.body?.cancel();
      const signedIn = await agent.submitForm(
        new URL(`${url.pathname}/login`, issuer.url),
        { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
        issuer.url,
      );
      await signedIn.response.body?.cancel();
      ({ response, url } = await agent.follow(new URL('/account/keys', issuer.url), issuer.url));
    }
    assert.equal(url.pathname, '/account/keys');
    return { agent, html: await response.text() };
  }
  const post = async (agent: UserAgent, path: string, fields: Record<string, string | string[]>) => {
    const form = new URLSearchParams({ csrf: agent.formToken() });
    for (const [name, value] of Object.entries(fields)) for (const one of [value].flat()) form.append(name, one);
    const response = await agent.request(new URL(path, issuer.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: issuer.url },
      body: form.toString(),
    });
    return { response, html: await response.text() };
  };
  const exchange = (key: string) =>
    client.genericGrantRequest(cliConfig, GRANT_TYPES.tokenExchange, {
      subject_token: key,
      subject_token_type: TOKEN_TYPES.personalAccessToken,
      resource: issuer.taskApi,
    });
  const keysOf = (userId: string) => issuer.service.database.client.apiKey.findMany({ where: { userId } });

  it('makes a key with the ticked permissions, shows it once, then lists it without it', async () => {
    const user = await issuer.createUser();
    const { agent, html } = await openKeys(user);
    assert.match(html, /You have no keys/);
    assert.match(html, /value="[^"]+ tasks:read"/, 'the permissions the person holds are offered');
    assert.doesNotMatch(html, /tasks:admin/, 'and no other');
    const made = await post(agent, '/account/keys', {
      name: 'CI deploy job',
      permission: `${issuer.taskApi} tasks:read`,
      days: '30',
    });
    assert.equal(made.response.status, 200);
    assert.equal(made.response.headers.get('cache-control'), 'no-store');
    const key = KEY.exec(made.html)?.[0];
    assert.ok(key, 'the key is on the answer page');
    const [row] = await keysOf(user.id);
    assert.ok(row);
    assert.deepEqual(row.permissions, [`${issuer.taskApi} tasks:read`]);
    assert.ok(Math.abs(row.expiresAt.getTime() - (Date.now() + 30 * 86_400_000)) < 60_000);
    const listed = await (await agent.request(new URL('/account/keys', issuer.url))).text();
    assert.match(listed, /CI deploy job/);
    assert.match(listed, new RegExp(`${key.slice(0, 11)}…`));
    assert.ok(!listed.includes(key), 'never shown again');
    assert.equal((await exchange(key)).scope, 'tasks:read');
  });

  it('asks for the password again before making a key when the sign-in is not recent', async () => {
    const stale = await startIssuerWithApp({ RECENT_SIGN_IN_SECONDS: '0' });
    try {
      const user = await stale.issuer.createUser();
      const agent = new UserAgent();
      const start = await agent.follow(new URL('/account/keys', stale.issuer.url), stale.issuer.url);
      await start.response.body?.cancel();
      const signedIn = await agent.submitForm(
        new URL(`${start.url.pathname}/login`, stale.issuer.url),
        { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
        stale.issuer.url,
      );
      await signedIn.response.body?.cancel();
      await (await agent.request(new URL('/account/keys', stale.issuer.url))).text();
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const attempt = await agent.submitForm(
        new URL('/account/keys', stale.issuer.url),
        { csrf: agent.formToken(), name: 'late', permission: `${stale.issuer.taskApi} tasks:read` },
        stale.issuer.url,
      );
      await attempt.response.body?.cancel();
      assert.match(attempt.url.pathname, /^\/interaction\//, 'sent to sign in again');
      const made = await stale.issuer.service.database.client.apiKey.count({ where: { userId: user.id } });
      assert.equal(made, 0);
    } finally {
      await stale.issuer.stop();
    }
  });

  it('refuses a permission the person does not hold, and makes no key', async () => {
    const user = await issuer.createUser();
    const { agent } = await openKeys(user);
    const refused = await post(agent, '/account/keys', {
      name: 'sneaky',
      permission: `${issuer.taskApi} tasks:admin`,
    });
    assert.equal(refused.response.status, 400);
    assert.match(refused.html, /does not hold/);
    assert.equal((await keysOf(user.id)).length, 0);
  });

  it('attack: a key-making form posted from another site makes nothing', async () => {
    const user = await issuer.createUser();
    const { agent } = await openKeys(user);
    const response = await agent.request(new URL('/account/keys', issuer.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({
        csrf: agent.formToken(),
        name: 'Mallory',
        permission: `${issuer.taskApi} tasks:read`,
      }).toString(),
    });
    assert.equal(response.status, 403);
    await response.body?.cancel();
    assert.equal((await keysOf(user.id)).length, 0);
  });

  it('revokes one’s own key, and cannot touch another person’s', async () => {
    const owner = await issuer.createUser();
    const other = await issuer.createUser();
    const { key, record } = await issuer.issuer.apiKeys.create(
      { userId: owner.id },
      { name: 'laptop script', permissions: [`${issuer.taskApi} tasks:read`] },
    );
    const { agent } = await openKeys(other);
    const foreign = await post(agent, '/account/keys/revoke', { key: record.id });
    assert.equal(foreign.response.status, 404);
    assert.equal((await issuer.issuer.apiKeys.find(record.id))?.revokedAt, null);
    const own = await openKeys(owner);
    assert.match(own.html, /laptop script/);
    const revoked = await post(own.agent, '/account/keys/revoke', { key: record.id });
    assert.equal(revoked.response.status, 303);
    assert.equal(revoked.response.headers.get('location'), '/account/keys?notice=revoked');
    await assert.rejects(
      exchange(key),
      (error: unknown) => (error as client.ResponseBodyError).error === 'invalid_grant',
    );
  });

  it('mails the owner when a key is used from an address it was not used from before, once per address', async () => {
    const user = await issuer.createUser();
    const { key } = await issuer.issuer.apiKeys.create(
      { userId: user.id },
      { name: 'nightly backup', permissions: [`${issuer.taskApi} tasks:read`] },
    );
    const before = smtp.messages.length;
    await exchange(key);
    const mail = await smtp.waitFor(
      (message) => message.to.includes(user.email) && /had not been used from before/.test(mailText(message)),
    );
    assert.match(mailText(mail), /nightly backup/);
    assert.match(mailText(mail), /127\.0\.0\.1/);
    assert.ok(!mailText(mail).includes(key), 'the key is never in a mail');
    await exchange(key);
    await issuer.issuer.mailer.idle();
    const aboutKey = smtp.messages.slice(before).filter((message) => message.to.includes(user.email));
    assert.equal(aboutKey.length, 1, 'the same address again is not news');
    const events = await issuer.issuer.events.list({ userId: user.id, limit: 10 });
    assert.ok(events.some((event) => event.type === 'api_key.used_from_new_address'));
  });

  it('mails the owner once when a key expires within seven days', async () => {
    const user = await issuer.createUser();
    const { record } = await issuer.issuer.apiKeys.create(
      { userId: user.id },
      { name: 'release bot', permissions: [`${issuer.taskApi} tasks:read`], expiresInDays: 5 },
    );
    const later = await issuer.issuer.apiKeys.create(
      { userId: user.id },
      { name: 'long-lived', permissions: [`${issuer.taskApi} tasks:read`], expiresInDays: 60 },
    );
    assert.ok((await issuer.issuer.apiKeys.sendExpiryNotices()) >= 1);
    assert.equal(await issuer.issuer.apiKeys.sendExpiryNotices(), 0, 'told once');
    const mail = await smtp.waitFor((message) => message.to.includes(user.email) && /expires/.test(mailText(message)));
    assert.match(mailText(mail), /release bot/);
    assert.doesNotMatch(mailText(mail), /long-lived/);
    assert.notEqual((await issuer.issuer.apiKeys.find(record.id))?.expiryNoticeAt, null);
    assert.equal((await issuer.issuer.apiKeys.find(later.record.id))?.expiryNoticeAt, null);
  });
});
