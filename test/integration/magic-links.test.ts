import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import {
  APP_REDIRECT_URI,
  openSignIn,
  startIssuerWithMail,
  totpCode,
  type IssuerHarness,
} from '../support/issuer-harness.ts';
import { linkIn, startSmtpPeer, type ReceivedMail } from '../support/smtp-peer.ts';
import { UserAgent } from '../support/user-agent.ts';

describe('magic links', () => {
  let issuer: IssuerHarness;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let config: client.Configuration;

  let stop: () => Promise<void>;
  before(async () => {
    ({ issuer, config, smtp, stop } = await startIssuerWithMail({}));
  });
  after(() => stop());

  /** Opens a sign-in in `agent` and asks for a link for `email`; returns the interaction path and the page shown. */
  async function requestLink(email: string, agent = new UserAgent(), headers: Record<string, string> = {}) {
    const { response, interaction } = await openSignIn(issuer, config, agent);
    const csrf = await csrfOf(response);
    const result = await agent.follow(new URL(`${interaction}/magic-link`, issuer.url), issuer.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: issuer.url, ...headers },
      body: new URLSearchParams({ email, csrf }).toString(),
    });
    return { agent, interaction, response: result.response, html: await result.response.text() };
  }
  const csrfOf = async (response: Response) => /name="csrf" value="([^"]+)"/.exec(await response.text())?.[1] ?? '';
  const mailFor = (email: string, after = 0) =>
    smtp.waitFor((mail) => mail.to.includes(email) && smtp.messages.indexOf(mail) >= after);
  const stable = (html: string) =>
    html
      .replace(/nonce="[^"]+"/g, '')
      .replace(/value="[^"]+"/g, '')
      .replace(/\/interaction\/[^/"]+/g, '/interaction/X');

  async function openLinkAndSignIn(agent: UserAgent, link: URL) {
    const page = await agent.request(link);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<button type="submit" autofocus>Sign in<\/button>/);
    assert.ok(html.includes(`action="${link.pathname}"`), 'the button posts back to the link');
    return agent.submitForm(link, { csrf: agent.formToken() }, issuer.url);
  }

  it('answers the same page for a known and an unknown address, and mails only the known one', async () => {
    const user = await issuer.createUser();
    const before = smtp.messages.length;
    const known = await requestLink(user.email);
    const unknown = await requestLink(`nobody-${Date.now()}@example.com`);
    assert.equal(known.response.status, unknown.response.status);
    assert.equal(stable(known.html), stable(unknown.html));
    await mailFor(user.email, before);
    await issuer.issuer.mailer.idle();
    assert.equal(smtp.messages.slice(before).length, 1);
  });

  it('signs in only after the button on the link page is pressed, in the browser that asked', async () => {
    const user = await issuer.createUser();
    const before = smtp.messages.length;
    const { agent } = await requestLink(user.email);
    const link = linkIn(await mailFor(user.email, before), /\/magic\//);
    // A scanner's GET (twice, even) uses nothing up.
    await (await fetch(link)).body?.cancel();
    const { url } = await openLinkAndSignIn(agent, link);
    assert.equal(url.origin + url.pathname, APP_REDIRECT_URI);
    assert.ok(url.searchParams.get('code'));
  });

  it('refuses a link used a second time', async () => {
    const user = await issuer.createUser();
    const before = smtp.messages.length;
    const { agent } = await requestLink(user.email);
    const link = linkIn(await mailFor(user.email, before), /\/magic\//);
    const token = link.pathname.split('/').pop()!;
    const first = await openLinkAndSignIn(agent, link);
    assert.equal(first.url.origin + first.url.pathname, APP_REDIRECT_URI);
    const replay = await agent.submitForm(link, { csrf: agent.formToken(), token }, issuer.url);
    assert.ok(replay.response.status >= 400);
    assert.equal((await agent.request(link)).status, 410);
  });

  it('voids an older link when a newer one is asked for', async () => {
    const user = await issuer.createUser();
    let before = smtp.messages.length;
    const { agent } = await requestLink(user.email);
    const older = linkIn(await mailFor(user.email, before), /\/magic\//);
    before = smtp.messages.length;
    await requestLink(user.email, agent);
    await mailFor(user.email, before);
    assert.equal((await agent.request(older)).status, 410);
  });

  it('opened in another browser shows a code, which signs in the browser that asked', async () => {
    const user = await issuer.createUser();
    const before = smtp.messages.length;
    const { agent, interaction } = await requestLink(user.email);
    const link = linkIn(await mailFor(user.email, before), /\/magic\//);
    const phone = await new UserAgent().request(link);
    const html = await phone.text();
    assert.doesNotMatch(html, /method="post"/, 'another browser gets no button that could sign it in');
    const code = /aria-label="Sign-in code">([A-Z]{4}-[A-Z]{4})</.exec(html)?.[1];
    assert.ok(code, 'the page shows a short code');
    const { url } = await agent.submitForm(
      new URL(`${interaction}/magic-code`, issuer.url),
      { csrf: agent.formToken(), code: code.toLowerCase() },
      issuer.url,
    );
    assert.equal(url.origin + url.pathname, APP_REDIRECT_URI);
  });

  it('stops accepting codes after five wrong ones', async () => {
    const user = await issuer.createUser();
    const before = smtp.messages.length;
    const { agent, interaction } = await requestLink(user.email);
    const link = linkIn(await mailFor(user.email, before), /\/magic\//);
    const code = /aria-label="Sign-in code">([A-Z-]+)</.exec(await (await new UserAgent().request(link)).text())![1]!;
    const action = new URL(`${interaction}/magic-code`, issuer.url);
    for (let i = 0; i < 5; i += 1)
      assert.equal(
        (await agent.submitForm(action, { csrf: agent.formToken(), code: 'BBBB-BBBB' }, issuer.url)).response.status,
        401,
      );
    assert.equal((await agent.submitForm(action, { csrf: agent.formToken(), code }, issuer.url)).response.status, 429);
  });

  it('refuses a link asked for in one sign-in when used in another', async () => {
    const user = await issuer.createUser();
    const before = smtp.messages.length;
    const { agent } = await requestLink(user.email);
    const link = linkIn(await mailFor(user.email, before), /\/magic\//);
    const token = link.pathname.split('/').pop()!;
    const { response, interaction: other } = await openSignIn(issuer, config, agent);
    await response.body?.cancel();
    const elsewhere = new URL(`${other}/magic/${token}`, issuer.url);
    assert.equal((await agent.request(elsewhere)).status, 410);
    const { response: post } = await agent.submitForm(elsewhere, { csrf: agent.formToken(), token }, issuer.url);
    assert.equal(post.status, 410);
    // ...and the link is not used up by the attempt (opened elsewhere, it still offers its code).
    assert.equal((await new UserAgent().request(link)).status, 200);
  });

  it('builds the link from the configured issuer URL whatever forwarded host the request names', async () => {
    const user = await issuer.createUser();
    const before = smtp.messages.length;
    await requestLink(user.email, new UserAgent(), {
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
    });
    const link = linkIn(await mailFor(user.email, before), /\/magic\//);
    assert.equal(link.origin, issuer.url);
  });

  it('still asks for the second factor when the account has TOTP', async () => {
    const user = await issuer.createUser({ totp: true });
    const before = smtp.messages.length;
    const { agent, interaction } = await requestLink(user.email);
    const link = linkIn(await mailFor(user.email, before), /\/magic\//);
    const { response, url } = await openLinkAndSignIn(agent, link);
    assert.equal(url.origin, issuer.url, 'no redirect to the app yet');
    assert.match(await response.text(), /Two-step verification/);
    const done = await agent.submitForm(
      new URL(`${interaction}/second-factor`, issuer.url),
      { csrf: agent.formToken(), code: await totpCode(user.totpSecret!) },
      issuer.url,
    );
    assert.equal(done.url.origin + done.url.pathname, APP_REDIRECT_URI);
  });

  it('sends no more than five links per address in the window, answering the same page', async () => {
    const user = await issuer.createUser();
    const before = smtp.messages.length;
    const pages: string[] = [];
    for (let i = 0; i < 7; i += 1) pages.push(stable((await requestLink(user.email)).html));
    await issuer.issuer.mailer.idle();
    assert.equal(smtp.messages.slice(before).filter((mail: ReceivedMail) => mail.to.includes(user.email)).length, 5);
    assert.equal(new Set(pages).size, 1);
  });
});

describe('magic link expiry', () => {
  let issuer: IssuerHarness;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let config: client.Configuration;

  let stop: () => Promise<void>;
  before(async () => {
    ({ issuer, config, smtp, stop } = await startIssuerWithMail({ MAGIC_LINK_TTL_SECONDS: '1' }));
  });
  after(() => stop());

  it('refuses a link after its lifetime', async () => {
    const user = await issuer.createUser();
    const { agent, response, interaction } = await openSignIn(issuer, config);
    await response.body?.cancel();
    await agent.submitForm(
      new URL(`${interaction}/magic-link`, issuer.url),
      { csrf: agent.formToken(), email: user.email },
      issuer.url,
    );
    const link = linkIn(await smtp.waitFor((mail) => mail.to.includes(user.email)), /\/magic\//);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    assert.equal((await agent.request(link)).status, 410);
  });
});
