import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import {
  APP_REDIRECT_URI,
  startIssuerWithApp,
  TEST_PASSWORD,
  totpCode,
  type IssuerHarness,
  type TestUser,
} from '../support/issuer-harness.ts';
import { UserAgent } from '../support/user-agent.ts';

const NEW_PASSWORD = 'another long passphrase, changed';

describe('account pages', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;

  before(async () => {
    ({ issuer, config } = await startIssuerWithApp({ LOCKOUT_IP_MAX_FAILURES: '1000' }));
  });
  after(() => issuer.stop());

  /** Signs `user` in to /account in a fresh browser (password, then TOTP when given a secret); returns the browser and the page. */
  async function openAccount(user: TestUser, password = TEST_PASSWORD, agent = new UserAgent()) {
    let { response, url } = await agent.follow(new URL('/account', issuer.url), issuer.url);
    if (url.pathname.startsWith('/interaction/')) {
      await response.body?.cancel();
      const interaction = url.pathname;
      ({ response, url } = await agent.submitForm(
        new URL(`${interaction}/login`, issuer.url),
        { csrf: agent.formToken(), email: user.email, password },
        issuer.url,
      ));
      if (user.totpSecret && url.pathname === `${interaction}/login`) {
        await response.body?.cancel();
        ({ response, url } = await agent.submitForm(
          new URL(`${interaction}/second-factor`, issuer.url),
          { csrf: agent.formToken(), code: await totpCode(user.totpSecret) },
          issuer.url,
        ));
      }
    }
    return { agent, response, url, html: await response.text() };
  }
  const post = async (agent: UserAgent, path: string, fields: Record<string, string> = {}) => {
    // The form token of the page last shown, unless the test names another.
    const form = { csrf: agent.formToken(), ...fields };
    const { response, url } = await agent.submitForm(new URL(path, issuer.url), form, issuer.url);
    return { response, url, html: await response.text() };
  };

  it('sends a browser without a session to sign in, then shows that account', async () => {
    const user = await issuer.createUser();
    const first = await new UserAgent().follow(new URL('/account', issuer.url), issuer.url);
    assert.match(first.url.pathname, /^\/interaction\//);
    await first.response.body?.cancel();
    const { url, html } = await openAccount(user);
    assert.equal(url.pathname, '/account');
    assert.match(html, new RegExp(user.email.replace(/[.+]/g, '\\$&')));
    assert.match(html, /\(this browser\)/);
  });

  it('edits the profile: saved fields show on the account page, a refused field is named and nothing changes', async () => {
    const user = await issuer.createUser();
    const { agent } = await openAccount(user);
    const form = await agent.request(new URL('/account/profile', issuer.url));
    assert.match(await form.text(), /name="given_name"/);
    const refused = await post(agent, '/account/profile', {
      name: 'Ada Lovelace',
      picture: 'http://example.com/a.png',
    });
    assert.equal(refused.response.status, 400);
    assert.match(refused.html, /Use an https:\/\/ address/);
    assert.match(refused.html, /value="Ada Lovelace"/, 'what was typed stays in the form');
    assert.equal((await issuer.service.database.client.user.findUnique({ where: { id: user.id } }))!.name, null);
    const saved = await post(agent, '/account/profile', {
      name: 'Ada Lovelace',
      zoneinfo: 'Europe/London',
      locale: '',
    });
    assert.equal(saved.url.pathname, '/account');
    assert.match(saved.html, /Your profile is saved/);
    assert.match(saved.html, /Ada Lovelace/);
    assert.match(saved.html, /Europe\/London/);
  });

  it('attack: a profile form posted from another site changes nothing', async () => {
    const user = await issuer.createUser();
    const { agent } = await openAccount(user);
    const response = await agent.request(new URL('/account/profile', issuer.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ csrf: agent.formToken(), name: 'Mallory' }).toString(),
    });
    assert.equal(response.status, 403);
    await response.body?.cancel();
    assert.equal((await issuer.service.database.client.user.findUnique({ where: { id: user.id } }))!.name, null);
  });

  it('changes the password only with the current one, and signs other browsers out', async () => {
    const user = await issuer.createUser();
    const { agent } = await openAccount(user);
    const other = await openAccount(user);
    await (await agent.request(new URL('/account/password', issuer.url))).text();
    const wrong = await post(agent, '/account/password', {
      current_password: 'not my password at all',
      new_password: NEW_PASSWORD,
    });
    assert.equal(wrong.response.status, 401);
    const changed = await post(agent, '/account/password', {
      current_password: TEST_PASSWORD,
      new_password: NEW_PASSWORD,
    });
    assert.equal(changed.url.pathname, '/account');
    assert.match(changed.html, /Your password is changed/);
    const otherAgain = await other.agent.follow(new URL('/account', issuer.url), issuer.url);
    assert.match(otherAgain.url.pathname, /^\/interaction\//, 'the other browser must sign in again');
    await otherAgain.response.body?.cancel();
    const events = (await issuer.issuer.events.list({ userId: user.id })).map((event) => event.type);
    assert.ok(events.includes('password.changed'));
  });

  it('turns TOTP on only after a correct code, shows ten recovery codes once, and sign-in then asks for a code', async () => {
    const user = await issuer.createUser();
    const { agent } = await openAccount(user);
    const enroll = await post(agent, '/account/totp/enroll');
    assert.match(enroll.html, /src="data:image\/png;base64,/);
    const secret = /<code>([A-Z2-7 ]+)<\/code>/.exec(enroll.html)?.[1]?.replace(/ /g, '');
    assert.ok(secret);
    const wrong = await post(agent, '/account/totp/confirm', { code: '000000' });
    assert.equal(wrong.response.status, 400);
    assert.equal(await issuer.secondFactor.isEnabled(user.id), false);
    const confirmed = await post(agent, '/account/totp/confirm', { code: await totpCode(secret) });
    const codes = [...confirmed.html.matchAll(/<li>([a-z0-9]{5}-[a-z0-9]{5})<\/li>/g)].map((match) => match[1]);
    assert.equal(codes.length, 10);
    assert.equal(await issuer.secondFactor.isEnabled(user.id), true);
    const fresh = new UserAgent();
    const start = await fresh.follow(new URL('/account', issuer.url), issuer.url);
    await start.response.body?.cancel();
    const { response } = await fresh.submitForm(
      new URL(`${start.url.pathname}/login`, issuer.url),
      { csrf: fresh.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    assert.match(await response.text(), /Two-step verification/);
  });

  it('regenerates recovery codes, and the old ones stop working', async () => {
    const user = await issuer.createUser({ totp: true });
    const { agent } = await openAccount(user);
    const result = await post(agent, '/account/recovery-codes', { proof: TEST_PASSWORD });
    const codes = [...result.html.matchAll(/<li>([a-z0-9]{5}-[a-z0-9]{5})<\/li>/g)].map((match) => match[1]!);
    assert.equal(codes.length, 10);
    assert.equal(await issuer.secondFactor.useRecoveryCode(user.id, user.recoveryCodes![0]!), false);
    assert.equal(await issuer.secondFactor.useRecoveryCode(user.id, codes[0]!), true);
  });

  it('turns TOTP off for a recent sign-in that also gives the password', async () => {
    const user = await issuer.createUser({ totp: true });
    const { agent } = await openAccount(user);
    const removed = await post(agent, '/account/totp/remove', { proof: TEST_PASSWORD });
    assert.match(removed.html, /Two-step verification is off/);
    assert.equal(await issuer.secondFactor.isEnabled(user.id), false);
  });

  it('turns TOTP off with a current authenticator code instead of the password', async () => {
    const user = await issuer.createUser({ totp: true });
    const { agent } = await openAccount(user);
    // The sign-in used this time step's code; the proof needs the next one.
    await issuer.service.database.client.user.update({ where: { id: user.id }, data: { totpLastStep: null } });
    const removed = await post(agent, '/account/totp/remove', { proof: await totpCode(user.totpSecret!) });
    assert.match(removed.html, /Two-step verification is off/);
    assert.equal(await issuer.secondFactor.isEnabled(user.id), false);
  });

  it('attack: a hijacked recent session alone cannot turn off the second factor or take new recovery codes', async () => {
    const user = await issuer.createUser({ totp: true });
    const { agent } = await openAccount(user);
    for (const proof of [undefined, 'a wrong password guess', '000000']) {
      const fields: Record<string, string> = proof === undefined ? {} : { proof };
      const removed = await post(agent, '/account/totp/remove', fields);
      assert.equal(removed.response.status, 401, `remove with ${proof ?? 'nothing'}`);
      assert.match(removed.html, /current code from your authenticator app, or your password/);
      const regenerated = await post(agent, '/account/recovery-codes', fields);
      assert.equal(regenerated.response.status, 401, `regenerate with ${proof ?? 'nothing'}`);
    }
    assert.equal(await issuer.secondFactor.isEnabled(user.id), true);
    assert.equal(
      await issuer.secondFactor.useRecoveryCode(user.id, user.recoveryCodes![0]!),
      true,
      'the old recovery codes still work',
    );
  });

  it('lists each browser session with its device and signs out another one', async () => {
    const user = await issuer.createUser();
    const { agent } = await openAccount(user);
    const other = await openAccount(user);
    const page = await (await agent.request(new URL('/account', issuer.url))).text();
    const handles = [...page.matchAll(/name="session" value="([^"]+)"/g)].map((match) => match[1]!);
    assert.equal(handles.length, 1, 'one other session, with a sign-out button');
    assert.match(page, /Node\.js|Unknown browser/);
    const intruder = await openAccount(await issuer.createUser());
    const refused = await post(intruder.agent, '/account/sessions/revoke', { session: handles[0]! });
    assert.equal(refused.response.status, 404, 'another account cannot sign it out');
    const stillIn = await other.agent.follow(new URL('/account', issuer.url), issuer.url);
    assert.equal(stillIn.url.pathname, '/account');
    await stillIn.response.body?.cancel();
    const revoked = await post(agent, '/account/sessions/revoke', { session: handles[0]! });
    assert.match(revoked.html, /That browser is signed out/);
    const otherAgain = await other.agent.follow(new URL('/account', issuer.url), issuer.url);
    assert.match(otherAgain.url.pathname, /^\/interaction\//);
    await otherAgain.response.body?.cancel();
  });

  it('lists apps with access and removes one, ending its refresh tokens', async () => {
    const user = await issuer.createUser();
    const { callbackUrl, verifier, state, agent } = await issuer.authorize(config, user, {
      redirect_uri: APP_REDIRECT_URI,
    });
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const { html } = await openAccount(user, TEST_PASSWORD, agent);
    const grant = /name="grant" value="([^"]+)"/.exec(html)?.[1];
    assert.ok(grant, 'the app is listed');
    const intruder = await issuer.createUser();
    const { agent: intruderAgent } = await openAccount(intruder);
    const refused = await post(intruderAgent, '/account/apps/revoke', { grant });
    assert.equal(refused.response.status, 404, 'another account cannot remove it');
    await client.refreshTokenGrant(config, tokens.refresh_token!);
    const removed = await post(agent, '/account/apps/revoke', { grant });
    assert.match(removed.html, /no longer has access/);
    await assert.rejects(
      client.refreshTokenGrant(config, tokens.refresh_token!),
      (error: { error?: string }) => error.error === 'invalid_grant',
    );
  });

  it('refuses an account form without its form token or from another origin', async () => {
    const user = await issuer.createUser({ totp: true });
    const { agent } = await openAccount(user);
    assert.equal((await post(agent, '/account/totp/remove', { csrf: 'forged' })).response.status, 403);
    const crossSite = await agent.submitForm(
      new URL('/account/totp/remove', issuer.url),
      { csrf: agent.formToken() },
      'https://evil.example',
    );
    assert.equal(crossSite.response.status, 403);
    assert.equal(await issuer.secondFactor.isEnabled(user.id), true);
  });
});

describe('account pages with an old sign-in', () => {
  it('ask for the password again before a sensitive change', async () => {
    const { issuer } = await startIssuerWithApp({ RECENT_SIGN_IN_SECONDS: '0' });
    try {
      const user = await issuer.createUser({ totp: true });
      const agent = new UserAgent();
      const start = await agent.follow(new URL('/account', issuer.url), issuer.url);
      await start.response.body?.cancel();
      const interaction = start.url.pathname;
      let { response, url } = await agent.submitForm(
        new URL(`${interaction}/login`, issuer.url),
        { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
        issuer.url,
      );
      await response.body?.cancel();
      ({ response, url } = await agent.submitForm(
        new URL(`${interaction}/second-factor`, issuer.url),
        { csrf: agent.formToken(), code: await totpCode(user.totpSecret!) },
        issuer.url,
      ));
      await response.body?.cancel();
      assert.equal(url.pathname, '/account');
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const attempt = await agent.submitForm(
        new URL('/account/totp/remove', issuer.url),
        { csrf: agent.formToken() },
        issuer.url,
      );
      await attempt.response.body?.cancel();
      assert.match(attempt.url.pathname, /^\/interaction\//, 'sent to sign in again');
      assert.match(await (await agent.request(attempt.url)).text(), /name="password"/);
      assert.equal(await issuer.secondFactor.isEnabled(user.id), true);
    } finally {
      await issuer.stop();
    }
  });
});
