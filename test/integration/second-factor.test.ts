import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import {
  APP_REDIRECT_URI as REDIRECT,
  openSignIn,
  startIssuerWithApp,
  TEST_PASSWORD,
  totpCode,
  type IssuerHarness,
  type TestUser,
} from '../support/issuer-harness.ts';
import type { UserAgent } from '../support/user-agent.ts';

describe('second factor: TOTP and recovery codes', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;

  before(async () => {
    ({ issuer, config } = await startIssuerWithApp({ LOCKOUT_IP_MAX_FAILURES: '1000' }));
  });
  after(() => issuer.stop());

  /** Signs in with the password and returns where that left the browser: the code page, for TOTP users. */
  async function passwordStep(user: TestUser) {
    const { agent, response, interaction, action } = await openSignIn(issuer, config);
    await response.body?.cancel();
    const afterPassword = await agent.submitForm(
      action,
      { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
      issuer.url,
    );
    return { agent, interaction, afterPassword };
  }
  const secondStep = (agent: UserAgent, interaction: string, fields: Record<string, string>) =>
    agent.submitForm(
      new URL(`${interaction}/second-factor`, issuer.url),
      { csrf: agent.formToken(), ...fields },
      issuer.url,
    );

  it('turns TOTP on only after one correct code, and gives ten recovery codes once', async () => {
    const user = await issuer.createUser();
    const { secret, uri } = await issuer.secondFactor.beginEnrollment(user.id, user.email);
    assert.match(uri, /^otpauth:\/\/totp\/Latchkey:/);
    assert.equal(await issuer.secondFactor.confirmEnrollment(user.id, '000000'), undefined);
    assert.equal(await issuer.secondFactor.isEnabled(user.id), false);
    const codes = await issuer.secondFactor.confirmEnrollment(user.id, await totpCode(secret));
    assert.equal(codes?.length, 10);
    assert.equal(new Set(codes).size, 10);
    assert.equal(await issuer.secondFactor.isEnabled(user.id), true);
    const stored = await issuer.service.database.client.recoveryCode.findMany({ where: { userId: user.id } });
    assert.ok(
      stored.every((row) => !(codes ?? []).includes(row.codeHash)),
      'stored hashed',
    );
    const sealed = await issuer.service.database.client.user.findUnique({ where: { id: user.id } });
    assert.ok(!sealed!.totpSecretEncrypted!.includes(secret), 'the secret is encrypted at rest');
  });

  it('does not finish a sign-in on the password alone when TOTP is on', async () => {
    const user = await issuer.createUser({ totp: true });
    const { afterPassword } = await passwordStep(user);
    assert.equal(afterPassword.response.status, 200);
    assert.match(await afterPassword.response.text(), /Two-step verification/);
  });

  it('finishes the sign-in with the current code', async () => {
    const user = await issuer.createUser({ totp: true });
    const { agent, interaction, afterPassword } = await passwordStep(user);
    await afterPassword.response.body?.cancel();
    const done = await secondStep(agent, interaction, { code: await totpCode(user.totpSecret!) });
    await done.response.body?.cancel();
    assert.equal(done.url.origin, new URL(REDIRECT).origin);
    assert.ok(done.url.searchParams.get('code'));
  });

  it('refuses a code replayed within its 30 seconds', async () => {
    const user = await issuer.createUser({ totp: true });
    const code = await totpCode(user.totpSecret!);
    const first = await passwordStep(user);
    await first.afterPassword.response.body?.cancel();
    const ok = await secondStep(first.agent, first.interaction, { code });
    await ok.response.body?.cancel();
    assert.equal(ok.url.origin, new URL(REDIRECT).origin);
    const second = await passwordStep(user);
    await second.afterPassword.response.body?.cancel();
    const replay = await secondStep(second.agent, second.interaction, { code });
    assert.equal(replay.response.status, 401);
    assert.match(await replay.response.text(), /not accepted/);
  });

  it('accepts each recovery code once, whatever its case and separator', async () => {
    const user = await issuer.createUser({ totp: true });
    const [code] = user.recoveryCodes!;
    const first = await passwordStep(user);
    await first.afterPassword.response.body?.cancel();
    const ok = await secondStep(first.agent, first.interaction, {
      recovery_code: code!.toUpperCase().replace('-', ' '),
    });
    await ok.response.body?.cancel();
    assert.equal(ok.url.origin, new URL(REDIRECT).origin, 'case and separators do not matter');
    const second = await passwordStep(user);
    await second.afterPassword.response.body?.cancel();
    const reuse = await secondStep(second.agent, second.interaction, { recovery_code: code! });
    assert.equal(reuse.response.status, 401);
    const events = (await issuer.issuer.events.list({ userId: user.id })).map((event) => event.type);
    assert.ok(events.includes('recovery_code.used'));
  });

  it('voids the old recovery codes when new ones are made', async () => {
    const user = await issuer.createUser({ totp: true });
    const fresh = await issuer.secondFactor.regenerateRecoveryCodes(user.id);
    assert.equal(await issuer.secondFactor.useRecoveryCode(user.id, user.recoveryCodes![1]!), false);
    assert.equal(await issuer.secondFactor.useRecoveryCode(user.id, fresh[0]!), true);
  });

  it('counts wrong codes toward the lockout', async () => {
    const user = await issuer.createUser({ totp: true });
    const { agent, interaction, afterPassword } = await passwordStep(user);
    await afterPassword.response.body?.cancel();
    // Five checked wrong codes; an attempt made during the growing wait after a failure is told to retry, not counted.
    for (let checked = 0; checked < 5;) {
      const wrong = await secondStep(agent, interaction, { code: '000000' });
      await wrong.response.body?.cancel();
      if (wrong.response.status === 429)
        await new Promise((resolve) =>
          setTimeout(resolve, Number(wrong.response.headers.get('retry-after')) * 1000 + 50),
        );
      else checked += 1;
    }
    const events = (await issuer.issuer.events.list({ userId: user.id })).map((event) => event.type);
    assert.ok(events.includes('account.locked'));
    const right = await secondStep(agent, interaction, { code: await totpCode(user.totpSecret!) });
    assert.equal(right.response.status, 401, 'locked: even the right code is refused');
  });

  it('gives the access token amr ["pwd","otp"] after a TOTP sign-in', async () => {
    const user = await issuer.createUser({ totp: true });
    const { callbackUrl, verifier, state } = await issuer.authorize(config, user, {
      redirect_uri: REDIRECT,
      scope: 'openid tasks:read',
    });
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    assert.deepEqual(decodeJwt(tokens.access_token).amr, ['pwd', 'otp']);
  });
});
