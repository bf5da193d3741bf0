import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import {
  APP_REDIRECT_URI,
  guessUntilLocked,
  openSignIn,
  startIssuerWithApp,
  startIssuerWithMail,
  TEST_PASSWORD,
  type IssuerHarness,
} from '../support/issuer-harness.ts';
import { linkIn, mailText, startSmtpPeer } from '../support/smtp-peer.ts';
import { parseForm, UserAgent } from '../support/user-agent.ts';

const NEW_PASSWORD = 'a brand new passphrase for latchkey';

/** How many cache writes under `prefix` the issuer makes while `run` runs (the same cache object serves the app). */
async function countCacheWrites(issuer: IssuerHarness, prefix: string, run: () => Promise<void>): Promise<number> {
  const cache = issuer.service.cache;
  const originalSet = cache.set.bind(cache);
  let writes = 0;
  cache.set = (key, value, ttl) => {
    if (key.startsWith(prefix)) writes += 1;
    return originalSet(key, value, ttl);
  };
  try {
    await run();
  } finally {
    cache.set = originalSet;
  }
  return writes;
}

describe('password reset', () => {
  let issuer: IssuerHarness;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let config: client.Configuration;

  let stop: () => Promise<void>;
  before(async () => {
    ({ issuer, config, smtp, stop } = await startIssuerWithMail({ LOCKOUT_IP_MAX_FAILURES: '1000' }));
  });
  after(() => stop());

  const mailFor = (email: string, after: number) =>
    smtp.waitFor((mail) => mail.to.includes(email) && smtp.messages.indexOf(mail) >= after);
  const stable = (html: string) => html.replace(/nonce="[^"]+"/g, '').replace(/value="[^"]+"/g, '');

  async function askForReset(email: string, agent = new UserAgent()) {
    await (await agent.request(new URL('/reset', issuer.url))).text();
    const { response } = await agent.submitForm(
      new URL('/reset', issuer.url),
      { csrf: agent.formToken(), email },
      issuer.url,
    );
    return { agent, status: response.status, html: await response.text() };
  }

  async function resetLink(email: string): Promise<URL> {
    const before = smtp.messages.length;
    await askForReset(email);
    const mail = await smtp.waitFor(
      (message) =>
        message.to.includes(email) &&
        smtp.messages.indexOf(message) >= before &&
        /\/reset\/[\w-]{20}/.test(mailText(message)),
    );
    return linkIn(mail, /^\/reset\/./);
  }

  async function signIn(email: string, password: string) {
    const { agent, response, action } = await openSignIn(issuer, config);
    await response.body?.cancel();
    return agent.submitForm(action, { csrf: agent.formToken(), email, password }, issuer.url);
  }

  it('answers the same page for a known and an unknown address, and mails only the known one', async () => {
    const user = await issuer.createUser();
    const before = smtp.messages.length;
    const known = await askForReset(user.email);
    const unknown = await askForReset(`nobody-${Date.now()}@example.com`);
    assert.equal(known.status, 200);
    assert.equal(unknown.status, 200);
    assert.equal(stable(known.html), stable(unknown.html));
    await mailFor(user.email, before);
    await issuer.issuer.mailer.idle();
    assert.equal(smtp.messages.length - before, 1);
  });

  it('attack: reset requests past the budget store no token and send no mail, with the same page', async () => {
    const user = await issuer.createUser();
    const pages: string[] = [];
    const tokensStored = await countCacheWrites(issuer, 'mail-token:password_reset:', async () => {
      for (let i = 0; i < 7; i += 1) pages.push((await askForReset(user.email)).html);
    });
    assert.equal(tokensStored, 5, 'a token is stored only within the budget');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(smtp.messages.filter((mail) => mail.to.includes(user.email)).length, 5);
    assert.equal(stable(pages[6]!), stable(pages[0]!));
  });

  it('changes nothing until the link and a valid new password are both presented', async () => {
    const user = await issuer.createUser();
    const link = await resetLink(user.email);
    const agent = new UserAgent();
    assert.equal((await agent.request(link)).status, 200);
    const weak = await agent.submitForm(link, { csrf: agent.formToken(), password: 'password1234' }, issuer.url);
    assert.equal(weak.response.status, 400);
    assert.match(await weak.response.text(), /commonly used|too easy/);
    const old = await signIn(user.email, TEST_PASSWORD);
    assert.equal(old.url.origin + old.url.pathname, APP_REDIRECT_URI, 'the old password still works');
    const done = await agent.submitForm(link, { csrf: agent.formToken(), password: NEW_PASSWORD }, issuer.url);
    assert.equal(done.response.status, 200);
    assert.match(await done.response.text(), /Password changed/);
  });

  it('ends refresh tokens, sessions and grants, and the new password signs in', async () => {
    const user = await issuer.createUser();
    const { callbackUrl, verifier, state } = await issuer.authorize(config, user, { redirect_uri: APP_REDIRECT_URI });
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    assert.ok(tokens.refresh_token);
    const link = await resetLink(user.email);
    const before = smtp.messages.length;
    const agent = new UserAgent();
    await (await agent.request(link)).text();
    await agent.submitForm(link, { csrf: agent.formToken(), password: NEW_PASSWORD }, issuer.url);
    await assert.rejects(
      client.refreshTokenGrant(config, tokens.refresh_token),
      (error: { error?: string }) => error.error === 'invalid_grant',
    );
    const notice = await mailFor(user.email, before);
    assert.match(mailText(notice), /password of your Latchkey account was just reset/);
    const withOld = await signIn(user.email, TEST_PASSWORD);
    assert.equal(withOld.response.status, 401);
    const withNew = await signIn(user.email, NEW_PASSWORD);
    assert.equal(withNew.url.origin + withNew.url.pathname, APP_REDIRECT_URI);
  });

  it('leads from the application\'s "Forgot your password?" back to the sign-in, and on to the application after the reset', async () => {
    const app = await issuer.createClient({
      name: 'Reset Planner',
      type: 'spa',
      redirectUris: [APP_REDIRECT_URI],
      clientUri: 'http://localhost:5998/',
    });
    const user = await issuer.createUser();
    const { agent, response, interaction } = await openSignIn(issuer, await issuer.discover(app.id));
    const href = /<a href="([^"]+)">Forgot your password\?<\/a>/
      .exec(await response.text())?.[1]
      ?.replaceAll('&amp;', '&');
    const form = await (await agent.request(new URL(href!, issuer.url))).text();
    assert.match(form, new RegExp(`<a href="${interaction}">Back to sign in</a>`));
    const before = smtp.messages.length;
    await agent.submitForm(
      new URL('/reset', issuer.url),
      { ...parseForm(form).fields, csrf: agent.formToken(), email: user.email },
      issuer.url,
    );
    const link = linkIn(await mailFor(user.email, before), /^\/reset\/./);
    const other = new UserAgent();
    await (await other.request(link)).text();
    const done = await other.submitForm(link, { csrf: other.formToken(), password: NEW_PASSWORD }, issuer.url);
    assert.match(await done.response.text(), /<a href="http:\/\/localhost:5998\/">Continue to Reset Planner<\/a>/);
  });

  it('uses a link once', async () => {
    const user = await issuer.createUser();
    const link = await resetLink(user.email);
    const agent = new UserAgent();
    await (await agent.request(link)).text();
    assert.equal(
      (await agent.submitForm(link, { csrf: agent.formToken(), password: NEW_PASSWORD }, issuer.url)).response.status,
      200,
    );
    assert.equal((await agent.request(link)).status, 410);
    assert.equal(
      (await agent.submitForm(link, { csrf: agent.formToken(), password: `${NEW_PASSWORD} again` }, issuer.url))
        .response.status,
      410,
    );
  });

  it('stays available while the account is locked, and unlocks it', async () => {
    const user = await issuer.createUser();
    await guessUntilLocked(issuer, config, user.email);
    assert.equal((await signIn(user.email, TEST_PASSWORD)).response.status, 401, 'locked');
    const link = await resetLink(user.email);
    const agent = new UserAgent();
    await (await agent.request(link)).text();
    await agent.submitForm(link, { csrf: agent.formToken(), password: NEW_PASSWORD }, issuer.url);
    const after = await signIn(user.email, NEW_PASSWORD);
    assert.equal(after.url.origin + after.url.pathname, APP_REDIRECT_URI);
  });

  it('refuses a reset form sent without its form token or from another origin', async () => {
    const user = await issuer.createUser();
    const link = await resetLink(user.email);
    const agent = new UserAgent();
    await (await agent.request(link)).text();
    const noToken = await agent.submitForm(link, { password: NEW_PASSWORD, csrf: '' }, issuer.url);
    assert.equal(noToken.response.status, 403);
    const crossSite = await agent.submitForm(
      link,
      { csrf: agent.formToken(), password: NEW_PASSWORD },
      'https://evil.example',
    );
    assert.equal(crossSite.response.status, 403);
  });
});

describe('password reset expiry', () => {
  it('refuses a reset link after its lifetime', async () => {
    const smtp = await startSmtpPeer();
    const { issuer } = await startIssuerWithApp({ SMTP_URL: smtp.url, PASSWORD_RESET_TTL_SECONDS: '1' });
    try {
      const user = await issuer.createUser();
      const agent = new UserAgent();
      await (await agent.request(new URL('/reset', issuer.url))).text();
      await agent.submitForm(new URL('/reset', issuer.url), { csrf: agent.formToken(), email: user.email }, issuer.url);
      const link = linkIn(await smtp.waitFor((mail) => mail.to.includes(user.email)), /^\/reset\//);
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      assert.equal((await agent.request(link)).status, 410);
    } finally {
      await issuer.stop();
      await smtp.close();
    }
  });
});

describe('sign-up', () => {
  let issuer: IssuerHarness;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let config: client.Configuration;

  let stop: () => Promise<void>;
  before(async () => {
    ({ issuer, config, smtp, stop } = await startIssuerWithMail({}));
  });
  after(() => stop());

  async function signUp(email: string, agent = new UserAgent()) {
    await (await agent.request(new URL('/sign-up', issuer.url))).text();
    const { response } = await agent.submitForm(
      new URL('/sign-up', issuer.url),
      { csrf: agent.formToken(), email },
      issuer.url,
    );
    return { agent, status: response.status, html: await response.text() };
  }
  const mailsTo = (email: string) => smtp.messages.filter((mail) => mail.to.includes(email));
  const confirmationLink = async (email: string, after: number) =>
    linkIn(
      await smtp.waitFor(
        (mail) =>
          mail.to.includes(email) && smtp.messages.indexOf(mail) >= after && /verify-email/.test(mailText(mail)),
      ),
      /^\/verify-email\//,
    );
  /** Opens the confirmation link in `agent` and posts the chosen password. */
  async function finishSignUp(link: URL, password: string, agent = new UserAgent()) {
    const page = await (await agent.request(link)).text();
    const { response } = await agent.submitForm(link, { csrf: agent.formToken(), password }, issuer.url);
    return { page, status: response.status, html: await response.text() };
  }

  it('creates the account only when the emailed link is confirmed with a password chosen there, with email_verified true', async () => {
    const email = `new-${Date.now()}@example.com`;
    const before = smtp.messages.length;
    assert.equal((await signUp(email)).status, 200);
    const link = await confirmationLink(email, before);
    await assert.rejects(
      issuer.authorize(config, { id: '', email }, { redirect_uri: APP_REDIRECT_URI }),
      /did not reach the client/,
      'no account before the confirmation',
    );
    const finished = await finishSignUp(link, TEST_PASSWORD);
    assert.match(finished.page, /name="password"/, 'the confirmation page asks for the password');
    assert.match(finished.html, /Your account is ready/);
    const { callbackUrl, verifier, state } = await issuer.authorize(
      config,
      { id: '', email },
      { redirect_uri: APP_REDIRECT_URI },
    );
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    assert.equal(tokens.claims()?.email_verified, true);
    assert.equal(tokens.claims()?.email, email);
  });

  it("attack: pre-hijacking, a stranger signs up with the victim's address, the victim confirms, the stranger's password does not sign in", async () => {
    const victim = `victim-${Date.now()}@example.com`;
    const attackerPassword = 'the attacker chose this passphrase';
    const before = smtp.messages.length;
    // The attacker cannot even send a password with the sign-up: the form takes the address alone.
    const attacker = new UserAgent();
    await (await attacker.request(new URL('/sign-up', issuer.url))).text();
    await attacker.submitForm(
      new URL('/sign-up', issuer.url),
      { csrf: attacker.formToken(), email: victim, password: attackerPassword },
      issuer.url,
    );
    const attackersLink = await confirmationLink(victim, before);
    // The victim signs up too (or just follows the mail), and confirms with her own password.
    const beforeOwn = smtp.messages.length;
    await signUp(victim);
    const ownLink = await confirmationLink(victim, beforeOwn);
    assert.match(
      (await finishSignUp(attackersLink, TEST_PASSWORD)).html,
      /Your account is ready/,
      'the first link she opens works',
    );
    assert.equal((await finishSignUp(ownLink, NEW_PASSWORD)).status, 409, 'the second finds the account made');
    const { agent, response, action } = await openSignIn(issuer, config);
    await response.body?.cancel();
    const attempt = await agent.submitForm(
      action,
      { csrf: agent.formToken(), email: victim, password: attackerPassword },
      issuer.url,
    );
    assert.equal(attempt.response.status, 401, "the attacker's password is not the account's");
  });

  it("attack: a stranger's later sign-up for the same address does not void the owner's pending link", async () => {
    const email = `pending-${Date.now()}@example.com`;
    const before = smtp.messages.length;
    await signUp(email);
    const ownersLink = await confirmationLink(email, before);
    for (let i = 0; i < 3; i += 1) await signUp(email);
    assert.match((await finishSignUp(ownersLink, TEST_PASSWORD)).html, /Your account is ready/);
  });

  it('attack: sign-up past the budget stores nothing, hashes nothing and sends nothing, with the same page', async () => {
    const email = `flood-${Date.now()}@example.com`;
    const agent = new UserAgent();
    const pages: string[] = [];
    const tokensStored = await countCacheWrites(issuer, 'mail-token:email_verification:', async () => {
      for (let i = 0; i < 8; i += 1) pages.push((await signUp(email, agent)).html);
    });
    assert.equal(tokensStored, 5, 'a token is stored only within the budget');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(mailsTo(email).length, 5, 'five mails per address per window');
    const strip = (html: string) => html.replace(/nonce="[^"]+"/g, '');
    assert.equal(strip(pages[7]!), strip(pages[0]!), 'the refusal looks like the answer');
  });

  it('answers the same page when the address already has an account, and tells its owner by mail', async () => {
    const existing = await issuer.createUser();
    const before = smtp.messages.length;
    const taken = await signUp(existing.email);
    const fresh = await signUp(`fresh-${Date.now()}@example.com`);
    assert.equal(taken.status, fresh.status);
    const strip = (html: string) =>
      html
        .replace(/nonce="[^"]+"/g, '')
        .replace(/value="[^"]+"/g, '')
        .replace(/[\w.+-]+@example\.com/g, 'EMAIL');
    assert.equal(strip(taken.html), strip(fresh.html));
    const mail = await smtp.waitFor(
      (message) => message.to.includes(existing.email) && smtp.messages.indexOf(message) >= before,
    );
    assert.match(mailText(mail), /already has one/);
  });

  it('refuses a weak password on the confirmation page, and the link still works for a good one', async () => {
    const email = `weak-${Date.now()}@example.com`;
    const before = smtp.messages.length;
    await signUp(email);
    const link = await confirmationLink(email, before);
    const weak = await finishSignUp(link, 'qwertyuiop123');
    assert.equal(weak.status, 400);
    assert.match(weak.html, /role="alert"/);
    assert.match((await finishSignUp(link, TEST_PASSWORD)).html, /Your account is ready/);
  });

  /** The href of the link named `text` on a page, with its entities decoded. */
  const hrefOf = (html: string, text: string) =>
    new RegExp(`<a href="([^"]+)">${text}</a>`).exec(html)?.[1]?.replaceAll('&amp;', '&');

  it('leads from the application\'s sign-in page back to it: "Back to sign in" while signing up, the application after', async () => {
    const app = await issuer.createClient({
      name: 'Planner Home',
      type: 'spa',
      redirectUris: [APP_REDIRECT_URI],
      clientUri: 'http://localhost:5999/',
    });
    const { agent, response, interaction } = await openSignIn(issuer, await issuer.discover(app.id));
    const signUpHref = hrefOf(await response.text(), 'Create an account');
    assert.equal(signUpHref, `/sign-up?client=${app.id}&interaction=${interaction.split('/').pop()}`);
    const form = await (await agent.request(new URL(signUpHref, issuer.url))).text();
    assert.equal(hrefOf(form, 'Back to sign in'), interaction, 'back to the very sign-in it left');

    const email = `from-app-${Date.now()}@example.com`;
    const before = smtp.messages.length;
    const sent = await agent.submitForm(
      new URL('/sign-up', issuer.url),
      { ...parseForm(form).fields, csrf: agent.formToken(), email },
      issuer.url,
    );
    assert.equal(hrefOf(await sent.response.text(), 'Back to sign in'), interaction);
    // The link opened later, in another browser: the way on is the application's home page.
    const finished = await finishSignUp(await confirmationLink(email, before), TEST_PASSWORD);
    assert.equal(hrefOf(finished.html, 'Continue to Planner Home'), 'http://localhost:5999/');
  });

  it('leads to the account after a sign-up that did not come from an application, or named one that does not exist', async () => {
    for (const query of ['', '?client=no-such-client', '?client=%3Cscript%3E&interaction=..%2F..']) {
      const agent = new UserAgent();
      const form = await (await agent.request(new URL(`/sign-up${query}`, issuer.url))).text();
      assert.equal(hrefOf(form, 'Back to sign in'), '/account');
      assert.doesNotMatch(form, /script%3E|&lt;script|\.\.\//, 'nothing malformed is echoed');
      const email = `plain-${Date.now()}-${query.length}@example.com`;
      const before = smtp.messages.length;
      await agent.submitForm(
        new URL('/sign-up', issuer.url),
        { ...parseForm(form).fields, csrf: agent.formToken(), email },
        issuer.url,
      );
      const finished = await finishSignUp(await confirmationLink(email, before), TEST_PASSWORD);
      assert.equal(hrefOf(finished.html, 'Go to your account'), '/account');
    }
  });

  it('offers a new link on the page of an expired or used one', async () => {
    const gone = await (
      await new UserAgent().request(new URL('/verify-email/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', issuer.url))
    ).text();
    assert.equal(hrefOf(gone, 'Ask for a new link'), '/sign-up');
  });

  it('is not there when SIGN_UP_ENABLED is false', async () => {
    const { issuer: closed } = await startIssuerWithApp({ SIGN_UP_ENABLED: 'false' });
    try {
      assert.equal((await fetch(new URL('/sign-up', closed.url))).status, 404);
      const login = await openSignIn(
        closed,
        await closed.discover(
          (await closed.createClient({ type: 'spa', redirectUris: [APP_REDIRECT_URI], firstParty: true })).id,
        ),
      );
      assert.doesNotMatch(await login.response.text(), /Create an account/);
    } finally {
      await closed.stop();
    }
  });
});
