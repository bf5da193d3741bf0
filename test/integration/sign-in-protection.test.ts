import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { lockout } from '../../src/accounts/lockout.ts';
import { APP_REDIRECT_URI as REDIRECT, openSignIn, startIssuer, startIssuerWithApp, TEST_PASSWORD, type IssuerHarness } from '../support/issuer-harness.ts';
import { startSmtpPeer } from '../support/smtp-peer.ts';
import { UserAgent } from '../support/user-agent.ts';

describe('sign-in protection', () => {
  let issuer: IssuerHarness;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let config: client.Configuration;

  before(async () => {
    smtp = await startSmtpPeer();
    ({ issuer, config } = await startIssuerWithApp({ SMTP_URL: smtp.url, LOCKOUT_IP_MAX_FAILURES: '1000' }));
  });
  after(async () => {
    await issuer.stop();
    await smtp.close();
  });

  /** Opens a sign-in in `agent` and returns the URL its login form posts to. */
  async function loginForm(agent: UserAgent): Promise<string> {
    const { response, action } = await openSignIn(issuer, config, agent);
    await response.body?.cancel();
    return action;
  }
  const submit = async (agent: UserAgent, action: string, email: string, password: string) => {
    const result = await agent.submitForm(action, { email, password }, issuer.url);
    await result.response.body?.cancel();
    return result;
  };
  const eventsFor = async (userId: string) => (await issuer.issuer.events.list({ userId })).map((event) => ({ type: event.type, reason: (event.detail as { reason?: string } | null)?.reason }));

  it('locks an account exactly once after twenty parallel wrong passwords, checking no more than five', async () => {
    const user = await issuer.createUser();
    const attacker = new UserAgent();
    const action = await loginForm(attacker);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(attacker, action, user.email, `wrong password number ${i}`)));
    assert.ok(results.every((result) => result.response.status === 401));
    const events = await eventsFor(user.id);
    assert.equal(events.filter((event) => event.reason === 'wrong_password').length, 5, 'exactly five passwords checked');
    assert.equal(events.filter((event) => event.type === 'account.locked').length, 1);
    assert.equal(events.filter((event) => event.type === 'sign_in.failed').length, 20);
  });

  it('answers the right password from a new browser during the lock exactly like a wrong one', async () => {
    const user = await issuer.createUser();
    const attacker = new UserAgent();
    const action = await loginForm(attacker);
    for (let i = 0; i < 5; i += 1) await submit(attacker, action, user.email, 'not the password at all');
    const stranger = new UserAgent();
    const strangerAction = await loginForm(stranger);
    const wrong = await stranger.submitForm(strangerAction, { email: user.email, password: 'another wrong one!' }, issuer.url);
    const right = await stranger.submitForm(strangerAction, { email: user.email, password: TEST_PASSWORD }, issuer.url);
    assert.equal(right.response.status, 401);
    const withoutNonce = (html: string) => html.replace(/nonce="[^"]+"/, '');
    assert.equal(withoutNonce(await right.response.text()), withoutNonce(await wrong.response.text()));
  });

  it('lets the owner\'s browser, which signed in before, in while an attacker has the account locked', async () => {
    const user = await issuer.createUser();
    const owner = new UserAgent();
    const first = await submit(owner, await loginForm(owner), user.email, TEST_PASSWORD);
    assert.equal(first.url.origin, new URL(REDIRECT).origin, 'the first sign-in reaches the app and leaves a device cookie');
    const attacker = new UserAgent();
    const attackAction = await loginForm(attacker);
    for (let i = 0; i < 6; i += 1) await submit(attacker, attackAction, user.email, `guess ${i} of the attacker`);
    assert.ok(await lockout(issuer.service.cache, issuer.service.config.issuer.lockout).isLocked(user.id));
    const again = await submit(owner, await loginForm(owner), user.email, TEST_PASSWORD);
    assert.equal(again.url.origin, new URL(REDIRECT).origin, 'the owner is not locked out');
  });

  it('tells the person by mail when their account is locked, with no secret in the message', async () => {
    const user = await issuer.createUser();
    const attacker = new UserAgent();
    const action = await loginForm(attacker);
    for (let i = 0; i < 5; i += 1) await submit(attacker, action, user.email, `secret-guess-${i}`);
    const mail = await smtp.waitFor((message) => message.to.includes(user.email));
    assert.match(mail.raw, /Subject: Your Latchkey account was locked/);
    assert.match(mail.raw, /Was this you\?/);
    assert.doesNotMatch(mail.raw, /secret-guess/);
  });

  it('lets a person sign in again once an administrator unlocks the account', async () => {
    const user = await issuer.createUser();
    const attacker = new UserAgent();
    const action = await loginForm(attacker);
    for (let i = 0; i < 5; i += 1) await submit(attacker, action, user.email, 'still not it, sorry');
    await lockout(issuer.service.cache, issuer.service.config.issuer.lockout).unlock(user.id);
    const fresh = new UserAgent();
    const result = await submit(fresh, await loginForm(fresh), user.email, TEST_PASSWORD);
    assert.equal(result.url.origin, new URL(REDIRECT).origin);
  });

  it('keeps passwords, codes and tokens out of the log and the security events', async () => {
    const user = await issuer.createUser();
    const agent = new UserAgent();
    await submit(agent, await loginForm(agent), user.email, 'pw-do-not-log-7f3a');
    const rows = JSON.stringify((await issuer.issuer.events.list({ userId: user.id })).map(({ id: _id, ...event }) => event));
    assert.doesNotMatch(rows, /pw-do-not-log|correct horse/);
  });
});

describe('sign-in timing', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;

  before(async () => {
    ({ issuer, config } = await startIssuerWithApp({ LOCKOUT_IP_MAX_FAILURES: '1000' }));
  });
  after(() => issuer.stop());

  it('takes as long for an unknown email as for a wrong password (medians within 20% over 30 tries)', async () => {
    const { agent, response, action } = await openSignIn(issuer, config);
    await response.body?.cancel();
    const users = await Promise.all(Array.from({ length: 30 }, () => issuer.createUser()));
    const time = async (email: string) => {
      const started = performance.now();
      const result = await agent.submitForm(action, { email, password: 'definitely wrong password' }, issuer.url);
      await result.response.body?.cancel();
      assert.equal(result.response.status, 401);
      return performance.now() - started;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (const [i, user] of users.entries()) {
      known.push(await time(user.email));
      unknown.push(await time(`nobody-${i}-${Date.now()}@example.com`));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const [a, b] = [median(known), median(unknown)];
    assert.ok(Math.abs(a - b) / Math.max(a, b) < 0.2, `known ${a.toFixed(1)} ms vs unknown ${b.toFixed(1)} ms`);
  });
});

describe('security log', () => {
  it('cannot be changed or pruned: updates and deletes leave it as it was', async () => {
    const issuer = await startIssuer();
    try {
      const user = await issuer.createUser();
      await issuer.issuer.events.record({ type: 'admin.user_created', userId: user.id, actor: 'admin-cli' });
      const db = issuer.service.database.client;
      await db.$executeRawUnsafe(`UPDATE security_events SET type = 'tampered' WHERE user_id = '${user.id}'`);
      await db.$executeRawUnsafe(`DELETE FROM security_events WHERE user_id = '${user.id}'`);
      const events = await issuer.issuer.events.list({ userId: user.id });
      assert.deepEqual(events.map((event) => event.type), ['admin.user_created']);
    } finally {
      await issuer.stop();
    }
  });
});
