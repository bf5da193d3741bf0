import { deleteAccount } from '../../src/issuer/account-lifecycle.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { lockRepository } from '../../src/accounts/lock-repository.ts';
import { lockout } from '../../src/accounts/lockout.ts';
import {
  APP_REDIRECT_URI as REDIRECT,
  guessUntilLocked,
  openSignIn,
  startIssuer,
  startIssuerWithApp,
  startIssuerWithMail,
  TEST_PASSWORD,
  totpCode,
  type IssuerHarness,
} from '../support/issuer-harness.ts';
import { startSmtpPeer } from '../support/smtp-peer.ts';
import { pairedGap } from '../support/timing.ts';
import { UserAgent } from '../support/user-agent.ts';

describe('sign-in protection', () => {
  let issuer: IssuerHarness;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let config: client.Configuration;

  let stop: () => Promise<void>;
  before(async () => {
    ({ issuer, config, smtp, stop } = await startIssuerWithMail({ LOCKOUT_IP_MAX_FAILURES: '1000' }));
  });
  after(() => stop());

  /** Opens a sign-in in `agent` and returns the URL its login form posts to. */
  async function loginForm(agent: UserAgent): Promise<string> {
    const { response, action } = await openSignIn(issuer, config, agent);
    await response.body?.cancel();
    return action;
  }
  const submit = async (agent: UserAgent, action: string, email: string, password: string) => {
    const result = await agent.submitForm(action, { csrf: agent.formToken(), email, password }, issuer.url);
    await result.response.body?.cancel();
    return result;
  };
  const eventsFor = async (userId: string) =>
    (await issuer.issuer.events.list({ userId })).map((event) => ({
      type: event.type,
      reason: (event.detail as { reason?: string } | null)?.reason,
    }));

  it('locks an account exactly once after twenty parallel wrong passwords, checking no more than five', async () => {
    const user = await issuer.createUser();
    const attacker = new UserAgent();
    const action = await loginForm(attacker);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => submit(attacker, action, user.email, `wrong password number ${i}`)),
    );
    // Refused as wrong (checked, or the lock), or told to wait (a check was not made): never let in.
    assert.ok(results.every((result) => result.response.status === 401 || result.response.status === 429));
    // On a slow machine some of the burst arrive after a failure and are told to wait; keep guessing until the lock.
    await guessUntilLocked(issuer, config, user.email, attacker);
    const events = await eventsFor(user.id);
    assert.equal(
      events.filter((event) => event.reason === 'wrong_password').length,
      5,
      'exactly five passwords checked',
    );
    assert.equal(events.filter((event) => event.type === 'account.locked').length, 1);
  });

  it('answers the right password from a new browser during the lock exactly like a wrong one', async () => {
    const user = await issuer.createUser();
    const attacker = new UserAgent();
    await guessUntilLocked(issuer, config, user.email, attacker);
    const stranger = new UserAgent();
    const strangerAction = await loginForm(stranger);
    const wrong = await stranger.submitForm(
      strangerAction,
      { csrf: stranger.formToken(), email: user.email, password: 'another wrong one!' },
      issuer.url,
    );
    const right = await stranger.submitForm(
      strangerAction,
      { csrf: stranger.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    assert.equal(right.response.status, 401);
    const withoutNonce = (html: string) => html.replace(/nonce="[^"]+"/g, '');
    assert.equal(withoutNonce(await right.response.text()), withoutNonce(await wrong.response.text()));
  });

  it("lets the owner's browser, which signed in before, in while an attacker has the account locked", async () => {
    const user = await issuer.createUser();
    const owner = new UserAgent();
    const first = await submit(owner, await loginForm(owner), user.email, TEST_PASSWORD);
    assert.equal(
      first.url.origin,
      new URL(REDIRECT).origin,
      'the first sign-in reaches the app and leaves a device cookie',
    );
    const attacker = new UserAgent();
    await guessUntilLocked(issuer, config, user.email, attacker);
    assert.ok(
      await lockout(
        issuer.service.cache,
        lockRepository(issuer.service.database.client),
        issuer.service.config.issuer.lockout,
      ).isLocked(user.id),
    );
    const again = await submit(owner, await loginForm(owner), user.email, TEST_PASSWORD);
    assert.equal(again.url.origin, new URL(REDIRECT).origin, 'the owner is not locked out');
  });

  it('lets ten parallel sign-ins with the right password all succeed (failures are counted, not attempts)', async () => {
    const user = await issuer.createUser();
    const agents = Array.from({ length: 10 }, () => new UserAgent());
    const actions = await Promise.all(agents.map((agent) => loginForm(agent)));
    const results = await Promise.all(agents.map((agent, i) => submit(agent, actions[i]!, user.email, TEST_PASSWORD)));
    assert.deepEqual(
      results.map((result) => result.url.origin),
      Array(10).fill(new URL(REDIRECT).origin),
    );
    assert.equal((await eventsFor(user.id)).filter((event) => event.type === 'sign_in.failed').length, 0);
  });

  it('asks a person who types right after a failure to wait a moment, without calling the password wrong or counting it', async () => {
    const user = await issuer.createUser();
    const agent = new UserAgent();
    const action = await loginForm(agent);
    await Promise.all([
      submit(agent, action, user.email, 'typo number one'),
      submit(agent, action, user.email, 'typo number two'),
    ]);
    const early = await agent.submitForm(
      action,
      { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    assert.equal(early.response.status, 429);
    assert.ok(Number(early.response.headers.get('retry-after')) >= 1);
    const html = await early.response.text();
    assert.match(html, /Wait a few seconds/);
    assert.doesNotMatch(html, /do not match/);
    await new Promise((resolve) => setTimeout(resolve, Number(early.response.headers.get('retry-after')) * 1000 + 50));
    const later = await submit(agent, action, user.email, TEST_PASSWORD);
    assert.equal(later.url.origin, new URL(REDIRECT).origin);
  });

  it('attack: four password typos, then the right password, do not get a valid TOTP code refused or the account locked', async () => {
    const user = await issuer.createUser({ totp: true });
    const agent = new UserAgent();
    const { response, interaction, action } = await openSignIn(issuer, config, agent);
    await response.body?.cancel();
    await Promise.all(Array.from({ length: 4 }, (_, i) => submit(agent, action, user.email, `typo ${i}`)));
    let passed = await agent.submitForm(
      action,
      { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    if (passed.response.status === 429) {
      await passed.response.body?.cancel();
      await new Promise((resolve) =>
        setTimeout(resolve, Number(passed.response.headers.get('retry-after')) * 1000 + 50),
      );
      passed = await agent.submitForm(
        action,
        { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
        issuer.url,
      );
    }
    assert.match(await passed.response.text(), /name="code"/, 'the password step passed');
    const coded = await agent.submitForm(
      `${issuer.url}${interaction}/second-factor`,
      { csrf: agent.formToken(), code: await totpCode(user.totpSecret!) },
      issuer.url,
    );
    await coded.response.body?.cancel();
    assert.equal(coded.url.origin, new URL(REDIRECT).origin, 'the valid code signs in');
    assert.equal(
      await lockout(
        issuer.service.cache,
        lockRepository(issuer.service.database.client),
        issuer.service.config.issuer.lockout,
      ).isLocked(user.id),
      false,
    );
  });

  it('keeps an account locked when the cache loses the lock (a Redis flush or restart)', async () => {
    const user = await issuer.createUser();
    const attacker = new UserAgent();
    await guessUntilLocked(issuer, config, user.email, attacker);
    // What a FLUSHALL does to the lock: its cache record is gone.
    await issuer.service.cache.delete(`lockout:lock:account:${user.id}`);
    const stranger = new UserAgent();
    const refused = await submit(stranger, await loginForm(stranger), user.email, TEST_PASSWORD);
    assert.equal(refused.response.status, 401, 'still locked');
    assert.ok(await issuer.service.cache.get(`lockout:lock:account:${user.id}`), 'the lock is back in the cache');
  });

  it('tells the person by mail when their account is locked, with no secret in the message', async () => {
    const user = await issuer.createUser();
    const attacker = new UserAgent();
    const action = await loginForm(attacker);
    await Promise.all(Array.from({ length: 5 }, (_, i) => submit(attacker, action, user.email, `secret-guess-${i}`)));
    await guessUntilLocked(issuer, config, user.email, attacker);
    const mail = await smtp.waitFor((message) => message.to.includes(user.email));
    assert.match(mail.raw, /Subject: Your Latchkey account was locked/);
    assert.match(mail.raw, /Was this you\?/);
    assert.doesNotMatch(mail.raw, /secret-guess/);
  });

  it('lets a person sign in again once an administrator unlocks the account', async () => {
    const user = await issuer.createUser();
    const attacker = new UserAgent();
    await guessUntilLocked(issuer, config, user.email, attacker);
    await lockout(
      issuer.service.cache,
      lockRepository(issuer.service.database.client),
      issuer.service.config.issuer.lockout,
    ).unlock(user.id);
    const fresh = new UserAgent();
    const result = await submit(fresh, await loginForm(fresh), user.email, TEST_PASSWORD);
    assert.equal(result.url.origin, new URL(REDIRECT).origin);
  });

  it('keeps passwords, codes and tokens out of the log and the security events', async () => {
    const user = await issuer.createUser();
    const agent = new UserAgent();
    await submit(agent, await loginForm(agent), user.email, 'pw-do-not-log-7f3a');
    const rows = JSON.stringify(
      (await issuer.issuer.events.list({ userId: user.id })).map(({ id: _id, ...event }) => event),
    );
    assert.doesNotMatch(rows, /pw-do-not-log|correct horse/);
  });
});

describe('sign-in protection behind a shared address', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;

  before(async () => {
    // Its own cache prefix: the address's failure count must start at zero, whatever other tests did.
    ({ issuer, config } = await startIssuerWithApp({
      LOCKOUT_IP_MAX_FAILURES: '3',
      REDIS_KEY_PREFIX: `latchkey-test:${process.pid}:shared-ip:`,
    }));
  });
  after(() => issuer.stop());

  it('attack: failures by others on the same IP address do not lock a trusted browser out, while a new browser there is stopped', async () => {
    const user = await issuer.createUser();
    const owner = new UserAgent();
    const first = await openSignIn(issuer, config, owner);
    await first.response.body?.cancel();
    assert.equal(
      (
        await owner.submitForm(
          first.action,
          { csrf: owner.formToken(), email: user.email, password: TEST_PASSWORD },
          issuer.url,
        )
      ).url.origin,
      new URL(REDIRECT).origin,
    );
    // Someone else behind the same address (a NAT, an office, a proxy with TRUST_PROXY off) spends its budget.
    const attacker = new UserAgent();
    const attack = await openSignIn(issuer, config, attacker);
    await attack.response.body?.cancel();
    await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        attacker.submitForm(
          attack.action,
          { csrf: attacker.formToken(), email: `someone-${i}@example.com`, password: 'guessing away' },
          issuer.url,
        ),
      ),
    );
    const stranger = await openSignIn(issuer, config);
    await stranger.response.body?.cancel();
    const blocked = await stranger.agent.submitForm(
      stranger.action,
      { csrf: stranger.agent.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    assert.equal(blocked.response.status, 401, 'the address has spent its budget');
    const again = await openSignIn(issuer, config, owner);
    await again.response.body?.cancel();
    const trusted = await owner.submitForm(
      again.action,
      { csrf: owner.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    assert.equal(trusted.url.origin, new URL(REDIRECT).origin, 'the trusted browser signs in');
  });
});

describe('sign-in timing', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;

  before(async () => {
    ({ issuer, config } = await startIssuerWithApp({ LOCKOUT_IP_MAX_FAILURES: '1000' }));
  });
  after(() => issuer.stop());

  it('takes as long for an unknown email as for a wrong password (median gap within a pair under 20%, over 30 pairs)', async () => {
    const { agent, response, action } = await openSignIn(issuer, config);
    await response.body?.cancel();
    const users = await Promise.all(Array.from({ length: 30 }, () => issuer.createUser()));
    const time = async (email: string) => {
      const started = performance.now();
      const result = await agent.submitForm(
        action,
        { csrf: agent.formToken(), email, password: 'definitely wrong password' },
        issuer.url,
      );
      await result.response.body?.cancel();
      assert.equal(result.response.status, 401);
      return performance.now() - started;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    // Alternating which side goes first, so that neither always runs second.
    for (const [i, user] of users.entries()) {
      const askKnown = async () => known.push(await time(user.email));
      const askUnknown = async () => unknown.push(await time(`nobody-${i}-${Date.now()}@example.com`));
      if (i % 2 === 0) await askKnown().then(askUnknown);
      else await askUnknown().then(askKnown);
    }
    const { share, text } = pairedGap(known, unknown);
    assert.ok(share < 0.2, text);
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
      assert.deepEqual(
        events.map((event) => event.type),
        ['admin.user_created'],
      );
    } finally {
      await issuer.stop();
    }
  });

  it('lets erasure clear the IP addresses of a deleted account and nothing else', async () => {
    const issuer = await startIssuer();
    try {
      const user = await issuer.createUser();
      const other = await issuer.createUser();
      const { events } = issuer.issuer;
      await events.record({ type: 'sign_in.succeeded', userId: user.id, actor: user.id, ip: '203.0.113.7' });
      await events.record({ type: 'admin.user_disabled', userId: other.id, actor: user.id, ip: '203.0.113.8' });
      await events.record({ type: 'sign_in.succeeded', userId: other.id, actor: other.id, ip: '198.51.100.1' });
      const db = issuer.service.database.client;
      await db.$executeRawUnsafe(
        `UPDATE security_events SET ip = NULL, type = 'tampered' WHERE user_id = '${user.id}'`,
      );
      assert.equal((await events.list({ userId: user.id }))[0]?.ip, '203.0.113.7', 'a rewrite hidden in an erasure');

      const { addressesErased } = await deleteAccount(db, issuer.service.cache, { unlock: async () => {} }, user.id);
      assert.equal(addressesErased, 2, 'its own line and the one it acted in');
      const lines = [...(await events.list({ userId: user.id })), ...(await events.list({ userId: other.id }))];
      assert.deepEqual(lines.map((line) => [line.type, line.ip]).sort(), [
        ['admin.user_disabled', null],
        ['sign_in.succeeded', null],
        ['sign_in.succeeded', '198.51.100.1'],
      ]);
    } finally {
      await issuer.stop();
    }
  });
});
