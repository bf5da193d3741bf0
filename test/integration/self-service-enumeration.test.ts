import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import {
  openSignIn,
  startIssuerWithApp,
  startIssuerWithMail,
  totpCode,
  type IssuerHarness,
} from '../support/issuer-harness.ts';
import { captureLog } from '../support/log-capture.ts';
import { linkIn, mailText, startSmtpPeer } from '../support/smtp-peer.ts';
import { pairedGap } from '../support/timing.ts';
import { UserAgent } from '../support/user-agent.ts';

/** Posts a form as a browser behind the trusted proxy at `ip` would, with the page's form token. */
async function timedPost(
  agent: UserAgent,
  action: URL,
  fields: Record<string, string>,
  csrf: string,
  ip: string,
  origin: string,
): Promise<number> {
  const started = performance.now();
  const response = await agent.request(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin, 'x-forwarded-for': ip },
    body: new URLSearchParams({ ...fields, csrf }).toString(),
  });
  await response.text();
  assert.equal(response.status, 200);
  return performance.now() - started;
}
const csrfIn = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)![1]!;

describe('mail-sending forms, timing', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;

  before(async () => {
    ({ issuer, config } = await startIssuerWithApp({ TRUST_PROXY: 'true' }));
  });
  after(() => issuer.stop());

  async function compare(send: (email: string, ip: string) => Promise<number>) {
    // Fifty pairs: with thirty, CI's load moved the median gap to 16% of the typical time once, with no leak behind it.
    const users = await Promise.all(Array.from({ length: 50 }, () => issuer.createUser()));
    // Warm-up, so the first requests' compilation lands on neither side.
    for (let i = 0; i < 3; i += 1) await send(`warm-${i}@example.com`, `10.9.0.${i + 1}`);
    const known: number[] = [];
    const unknown: number[] = [];
    // Mail goes out after the response, so each sample waits for the outbox to settle: otherwise the
    // known address's mail is written while the next request is timed. The order alternates so that
    // neither side always runs second.
    const sample = async (email: string, ip: string) => {
      const elapsed = await send(email, ip);
      await issuer.issuer.mailer.idle();
      return elapsed;
    };
    for (const [i, user] of users.entries()) {
      const askKnown = () => sample(user.email, `10.1.${i}.1`).then((ms) => known.push(ms));
      const askUnknown = () =>
        sample(`nobody-${i}-${Date.now()}@example.com`, `10.2.${i}.1`).then((ms) => unknown.push(ms));
      if (i % 2 === 0) await askKnown().then(askUnknown);
      else await askUnknown().then(askKnown);
    }
    const { share, text } = pairedGap(known, unknown);
    assert.ok(share < 0.2, text);
    return text;
  }

  it('takes as long to ask a sign-in link for an unknown address as for a known one (median gap within a pair under 20%, over 50 pairs)', async (t) => {
    const { agent, response, interaction } = await openSignIn(issuer, config);
    const csrf = csrfIn(await response.text());
    t.diagnostic(
      await compare((email, ip) =>
        timedPost(agent, new URL(`${interaction}/magic-link`, issuer.url), { email }, csrf, ip, issuer.url),
      ),
    );
  });

  it('takes as long to ask a password reset for an unknown address as for a known one (median gap within a pair under 20%, over 50 pairs)', async (t) => {
    const agent = new UserAgent();
    const csrf = csrfIn(await (await agent.request(new URL('/reset', issuer.url))).text());
    t.diagnostic(
      await compare((email, ip) => timedPost(agent, new URL('/reset', issuer.url), { email }, csrf, ip, issuer.url)),
    );
  });
});

describe('mail-sending forms, secrets', () => {
  const log = captureLog();
  let issuer: IssuerHarness;
  let config: client.Configuration;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;

  let stop: () => Promise<void>;
  before(async () => {
    ({ issuer, config, smtp, stop } = await startIssuerWithMail({}, { logDestination: log.stream }));
  });
  after(() => stop());

  it('keeps links, tokens, codes and passwords out of the log and the security events', async () => {
    const user = await issuer.createUser({ totp: true });
    const secrets: string[] = [];
    // A magic link, opened on another device (a short code), finished with a TOTP code.
    const { agent, response, interaction } = await openSignIn(issuer, config);
    await response.body?.cancel();
    await agent.submitForm(
      new URL(`${interaction}/magic-link`, issuer.url),
      { csrf: agent.formToken(), email: user.email },
      issuer.url,
    );
    const link = linkIn(await smtp.waitFor((mail) => mail.to.includes(user.email)), /\/magic\//);
    secrets.push(link.pathname.split('/').pop()!);
    const code = /aria-label="Sign-in code">([A-Z-]+)</.exec(await (await new UserAgent().request(link)).text())![1]!;
    secrets.push(code.replace('-', ''));
    const afterCode = await agent.submitForm(
      new URL(`${interaction}/magic-code`, issuer.url),
      { csrf: agent.formToken(), code },
      issuer.url,
    );
    await afterCode.response.body?.cancel();
    const otp = await totpCode(user.totpSecret!);
    const done = await agent.submitForm(
      new URL(`${interaction}/second-factor`, issuer.url),
      { csrf: agent.formToken(), code: otp },
      issuer.url,
    );
    assert.ok(done.url.searchParams.get('code'));
    secrets.push(done.url.searchParams.get('code')!);
    // A password reset with a new password.
    const resetAgent = new UserAgent();
    await (await resetAgent.request(new URL('/reset', issuer.url))).text();
    const before = smtp.messages.length;
    await resetAgent.submitForm(
      new URL('/reset', issuer.url),
      { csrf: resetAgent.formToken(), email: user.email },
      issuer.url,
    );
    const resetMail = await smtp.waitFor(
      (mail) => smtp.messages.indexOf(mail) >= before && /\/reset\/[\w-]{20}/.test(mailText(mail)),
    );
    const resetLink = linkIn(resetMail, /^\/reset\/./);
    secrets.push(resetLink.pathname.split('/').pop()!);
    await (await resetAgent.request(resetLink)).text();
    const newPassword = 'a-secret-new-passphrase-9d2c';
    secrets.push(newPassword);
    await resetAgent.submitForm(resetLink, { csrf: resetAgent.formToken(), password: newPassword }, issuer.url);
    await issuer.issuer.mailer.idle();

    const events = JSON.stringify(
      (await issuer.issuer.events.list({ userId: user.id })).map(({ id: _id, ...event }) => event),
    );
    for (const secret of [...secrets, user.totpSecret!]) {
      assert.ok(!log.text().includes(secret), `the log holds a secret (${secret.slice(0, 3)}...)`);
      assert.ok(!events.includes(secret), `the security events hold a secret (${secret.slice(0, 3)}...)`);
    }
    assert.match(events, /magic_link\.requested/);
    assert.match(events, /password\.reset/);
    assert.match(log.text(), /"path":"\/reset"/, 'the capture did record the requests');
  });
});
