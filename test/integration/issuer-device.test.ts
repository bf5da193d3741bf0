import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { USER_CODE_GUESS_LIMITS } from '../../src/issuer/oidc/device-flow.ts';
import { startIssuer, TEST_PASSWORD, type IssuerHarness } from '../support/issuer-harness.ts';
import { parseForm, UserAgent } from '../support/user-agent.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe('device authorization grant', () => {
  let issuer: IssuerHarness;
  let cli: { id: string };
  let config: client.Configuration;

  before(async () => {
    issuer = await startIssuer({ DEVICE_POLL_INTERVAL_SECONDS: '1' });
    cli = await issuer.createClient({ type: 'cli', firstParty: true });
    config = await issuer.discover(cli.id);
  });
  after(() => issuer.stop());

  /**
   * A person on another device: enters the code, continues, signs in, then (signed in, shown as
   * who they are) allows the device. Returns the page they end on.
   */
  async function approveOnAnotherDevice(
    userCode: string,
    user: { email: string },
    consentWords?: RegExp,
  ): Promise<string> {
    const agent = new UserAgent();
    const input = await agent.request(`${issuer.url}/device`);
    const inputForm = parseForm(await input.text());
    const confirmPage = await agent.submitForm(
      new URL(inputForm.action, issuer.url),
      { ...inputForm.fields, user_code: userCode },
      issuer.url,
    );
    const confirmHtml = await confirmPage.response.text();
    assert.match(confirmHtml, /<strong>test client[^<]*<\/strong> on a device is asking to sign in/);
    assert.doesNotMatch(confirmHtml, />Allow</, 'nothing is allowed before the person has signed in');
    const confirmForm = parseForm(confirmHtml);
    const login = await agent.submitForm(new URL(confirmForm.action, issuer.url), confirmForm.fields, issuer.url);
    await login.response.body?.cancel();
    assert.match(login.url.pathname, /^\/interaction\//);
    const consent = await agent.submitForm(
      `${login.url.href}/login`,
      { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    const consentHtml = await consent.response.text();
    assert.match(consentHtml, /Allow this device\?/);
    assert.match(consentHtml, new RegExp(`Signed in as <strong>${user.email.replace(/[.+]/g, '\\$&')}</strong>`));
    if (consentWords) assert.match(consentHtml, consentWords);
    const done = await agent.submitForm(
      `${consent.url.href}/consent`,
      { csrf: agent.formToken(), decision: 'allow' },
      issuer.url,
    );
    return done.response.text();
  }

  it('signs in a CLI: code shown, approved in a browser, tokens for the task API on the next poll', async () => {
    const user = await issuer.createUser();
    const authorization = await client.initiateDeviceAuthorization(config, {
      scope: 'openid offline_access tasks:read tasks:write',
    });
    assert.equal(authorization.interval, 1);
    assert.match(authorization.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    // Each scope in the words its API registered, and which API it is on.
    const success = await approveOnAnotherDevice(
      authorization.user_code,
      user,
      /See your tasks <span class="muted">on Task API<\/span>/,
    );
    assert.match(success, /is signed in/);
    const tokens = await client.pollDeviceAuthorizationGrant(config, authorization);
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${issuer.url}/jwks`)), {
      issuer: issuer.url,
      audience: issuer.taskApi,
      typ: 'at+jwt',
    });
    assert.equal(payload.sub, user.id);
    assert.equal(payload.scope, 'tasks:read tasks:write');
    assert.ok(tokens.refresh_token);
  });

  it('accepts the user code in lower case, without the dash and with spaces', async () => {
    const user = await issuer.createUser();
    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid tasks:read' });
    const sloppy = ` ${authorization.user_code.replace('-', ' ').toLowerCase()} `;
    assert.match(await approveOnAnotherDevice(sloppy, user), /is signed in/);
  });

  it('answers slow_down to polling faster than the interval, and adds 5 seconds to it', async () => {
    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const poll = () =>
      fetch(`${issuer.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: DEVICE_GRANT,
          device_code: authorization.device_code,
          client_id: cli.id,
        }),
      }).then(async (response) => (await response.json()) as { error: string; error_description: string });
    assert.equal((await poll()).error, 'authorization_pending');
    const tooFast = await poll();
    assert.equal(tooFast.error, 'slow_down');
    assert.match(tooFast.error_description, /6 seconds/);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal((await poll()).error, 'slow_down', 'the longer interval holds from then on');
  });

  it('stops checking user codes after too many wrong ones from one browser session', async () => {
    const agent = new UserAgent();
    let form = parseForm(await (await agent.request(`${issuer.url}/device`)).text());
    const statuses: number[] = [];
    for (let attempt = 0; attempt <= USER_CODE_GUESS_LIMITS.perSession; attempt += 1) {
      const { response } = await agent.submitForm(
        new URL(form.action, issuer.url),
        { ...form.fields, user_code: 'BCDF-GHJK' },
        issuer.url,
      );
      statuses.push(response.status);
      const html = await response.text();
      if (response.status === 429) {
        assert.ok(Number(response.headers.get('retry-after')) > 0);
        assert.match(html, /Too many wrong codes/);
        assert.equal(
          response.headers.get('cache-control'),
          'no-store',
          'the refusal is one of our pages, with their headers',
        );
        assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
        break;
      }
      assert.match(html, /That code is not valid/);
      form = parseForm(html);
    }
    assert.equal(statuses.length, USER_CODE_GUESS_LIMITS.perSession + 1, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.at(-1), 429);
    // Even a valid code is not looked at while the limit holds.
    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const { response } = await agent.submitForm(
      new URL(form.action, issuer.url),
      { ...form.fields, user_code: authorization.user_code },
      issuer.url,
    );
    assert.equal(response.status, 429);
  });

  it('tells the polling device access_denied when the person cancels on the code page', async () => {
    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const agent = new UserAgent();
    const inputForm = parseForm(await (await agent.request(`${issuer.url}/device`)).text());
    const confirm = await agent.submitForm(
      new URL(inputForm.action, issuer.url),
      { ...inputForm.fields, user_code: authorization.user_code },
      issuer.url,
    );
    const confirmForm = parseForm(await confirm.response.text());
    const { confirm: _omit, ...withoutConfirm } = confirmForm.fields;
    const denied = await agent.submitForm(
      new URL(confirmForm.action, issuer.url),
      { ...withoutConfirm, abort: 'yes' },
      issuer.url,
    );
    await denied.response.body?.cancel();
    await assert.rejects(
      client.pollDeviceAuthorizationGrant(config, authorization),
      (error: client.ResponseBodyError) => error.error === 'access_denied',
    );
  });

  /** Enters a code and continues; returns the agent at the sign-in page and that page's URL. */
  async function continueWithCode(userCode: string, agent = new UserAgent()) {
    const inputForm = parseForm(await (await agent.request(`${issuer.url}/device`)).text());
    const confirm = await agent.submitForm(
      new URL(inputForm.action, issuer.url),
      { ...inputForm.fields, user_code: userCode },
      issuer.url,
    );
    const confirmForm = parseForm(await confirm.response.text());
    const login = await agent.submitForm(new URL(confirmForm.action, issuer.url), confirmForm.fields, issuer.url);
    return { agent, login };
  }

  it('tells the polling device access_denied when the person, signed in, denies it', async () => {
    const user = await issuer.createUser();
    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const { agent, login } = await continueWithCode(authorization.user_code);
    await login.response.body?.cancel();
    const consent = await agent.submitForm(
      `${login.url.href}/login`,
      { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    assert.match(await consent.response.text(), /Allow this device\?/);
    const denied = await agent.submitForm(
      `${consent.url.href}/consent`,
      { csrf: agent.formToken(), decision: 'deny' },
      issuer.url,
    );
    await denied.response.body?.cancel();
    await assert.rejects(
      client.pollDeviceAuthorizationGrant(config, authorization),
      (error: client.ResponseBodyError) => error.error === 'access_denied',
    );
  });

  it('lets a person who left the sign-in tab enter the same code again and finish', async () => {
    const user = await issuer.createUser();
    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid tasks:read' });
    const abandoned = await continueWithCode(authorization.user_code);
    await abandoned.login.response.body?.cancel();
    assert.match(abandoned.login.url.pathname, /^\/interaction\//, 'left at the sign-in page');

    // Later, in the same browser: the code is offered again instead of "already used".
    const agent = abandoned.agent;
    const inputForm = parseForm(await (await agent.request(`${issuer.url}/device`)).text());
    const again = await agent.submitForm(
      new URL(inputForm.action, issuer.url),
      { ...inputForm.fields, user_code: authorization.user_code },
      issuer.url,
    );
    const againHtml = await again.response.text();
    assert.equal(again.response.status, 200);
    assert.match(againHtml, /was not finished\. Continue to start it again/);
    const retry = parseForm(againHtml);
    assert.equal(retry.fields.user_code ?? authorization.user_code, authorization.user_code);
    const { login } = await continueWithCode(authorization.user_code, agent);
    await login.response.body?.cancel();
    const consent = await agent.submitForm(
      `${login.url.href}/login`,
      { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    await consent.response.body?.cancel();
    const done = await agent.submitForm(
      `${consent.url.href}/consent`,
      { csrf: agent.formToken(), decision: 'allow' },
      issuer.url,
    );
    assert.match(await done.response.text(), /is signed in/);
    assert.ok((await client.pollDeviceAuthorizationGrant(config, authorization)).access_token);
  });

  it('still refuses a code a person has already used to sign a device in', async () => {
    const user = await issuer.createUser();
    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    assert.match(await approveOnAnotherDevice(authorization.user_code, user), /is signed in/);
    const agent = new UserAgent();
    const inputForm = parseForm(await (await agent.request(`${issuer.url}/device`)).text());
    const reused = await agent.submitForm(
      new URL(inputForm.action, issuer.url),
      { ...inputForm.fields, user_code: authorization.user_code },
      issuer.url,
    );
    assert.equal(reused.response.status, 400);
    assert.match(await reused.response.text(), /already been used/);
  });
});
