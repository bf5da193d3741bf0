import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { artifactPath, launchBrowser, needsChromium, signInOnPage } from '../support/browser.ts';
import { APP_REDIRECT_URI, startIssuerWithMail, type IssuerHarness, type TestUser } from '../support/issuer-harness.ts';
import type { SmtpPeer } from '../support/smtp-peer.ts';
import { startUpstreamProvider } from '../support/upstream-provider.ts';
import { upstreamProviders } from '../../src/issuer/federation/upstream-providers.ts';
import { sealer } from '../../src/shared/crypto/sealing.ts';
import { TEST_KEY_ENCRYPTION_KEY } from '../support/environment.ts';

/**
 * Passkeys in Chromium, with the DevTools protocol's virtual authenticator (CTAP2, built in,
 * resident keys, user verification): made at /account, then signing in on their own.
 */
describe('passkeys', { skip: needsChromium }, () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;
  let smtp: SmtpPeer;
  let stop: () => Promise<void>;
  let browser: Browser;

  before(async () => {
    // WebAuthn refuses an IP address as relying party: the issuer is http://localhost:<port>. No
    // lookup cache: a provider one test registers is on the sign-in page at once, however recently
    // an earlier test loaded it.
    ({ issuer, config, smtp, stop } = await startIssuerWithMail(
      { CLIENT_CACHE_TTL_SECONDS: '0' },
      { host: 'localhost' },
    ));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stop?.();
  });

  /**
   * A browser with a platform authenticator that holds discoverable credentials and verifies its
   * user, or (`securityKey`) a USB key that can do neither. Chromium's virtual authenticator
   * answers a waiting autofill request (conditional mediation) at once with its first credential,
   * as a person picking it would: unless `autofill` is asked for, the browser is one without
   * passkey autofill, so that the tests of the buttons reach the buttons.
   */
  async function browserWithAuthenticator(
    kind: 'platform' | 'securityKey' = 'platform',
    { autofill = false } = {},
  ): Promise<{
    context: BrowserContext;
    page: Page;
    cdp: CDPSession;
    authenticatorId: string;
  }> {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    if (!autofill)
      await context.addInitScript('PublicKeyCredential.isConditionalMediationAvailable = async () => false;');
    // The test app's redirect URI has no server behind it: answer for it.
    await context.route(`${APP_REDIRECT_URI}**`, (route) => route.fulfill({ status: 200, body: 'app' }));
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options:
        kind === 'platform'
          ? {
              protocol: 'ctap2',
              transport: 'internal',
              hasResidentKey: true,
              hasUserVerification: true,
              isUserVerified: true,
              automaticPresenceSimulation: true,
            }
          : {
              protocol: 'ctap2',
              transport: 'usb',
              hasResidentKey: false,
              hasUserVerification: false,
              automaticPresenceSimulation: true,
            },
    });
    return { context, page, cdp, authenticatorId };
  }

  /** Waits until the browser is at the app's redirect URI (polling: the redirect chain ends in a routed page). */
  async function arrivedAtApp(page: Page): Promise<void> {
    for (let waited = 0; waited < 15_000; waited += 100) {
      if (page.url().startsWith(APP_REDIRECT_URI)) return;
      await page.waitForTimeout(100);
    }
    throw new Error(`never reached the app; at ${page.url()}`);
  }

  async function addPasskey(page: Page, user: TestUser, name: string): Promise<void> {
    await page.goto(`${issuer.url}/account`);
    await signInOnPage(page, user);
    // A browser that can make a passkey on its device is offered one once, after this first password sign-in.
    const account = page.getByRole('heading', { name: 'Your account' });
    const offer = page.getByRole('heading', { name: 'Sign in faster next time' });
    await account.or(offer).waitFor();
    if (await offer.isVisible()) await page.getByRole('button', { name: 'Not now' }).click();
    await account.waitFor();
    await page.getByLabel('Name for the new passkey').fill(name);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Your passkey is added').waitFor();
  }

  /**
   * Opens the app's sign-in (prompt=login) and returns what is needed to redeem the code; with
   * `{ form: false }` it does not wait for the form (an autofill may sign in as the page opens).
   */
  async function openSignIn(page: Page, { form = true } = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    await page.goto(
      client.buildAuthorizationUrl(config, {
        redirect_uri: APP_REDIRECT_URI,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        prompt: 'login',
      }).href,
    );
    if (form) await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
    return { verifier, state };
  }

  it('adds a passkey at /account, then signs in with it alone: amr hwk and user, the multi-factor acr, the counter moved', async () => {
    const { context, page } = await browserWithAuthenticator();
    const user = await issuer.createUser();
    await addPasskey(page, user, 'Work laptop');
    await page.locator('table', { hasText: 'Work laptop' }).waitFor();
    await page.screenshot({ path: await artifactPath('passkeys-account.png'), fullPage: true });
    const db = issuer.service.database.client;
    const [stored] = await db.passkey.findMany({ where: { userId: user.id } });
    assert.equal(stored?.name, 'Work laptop');
    assert.equal(stored?.lastUsedAt, null);

    const { verifier, state } = await openSignIn(page);
    await page.screenshot({ path: await artifactPath('passkeys-sign-in.png'), fullPage: true });
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const claims = await redeem(page, { verifier, state });
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['hwk', 'user']);
    assert.equal(claims.acr, 'urn:latchkey:mfa');
    const used = await db.passkey.findUniqueOrThrow({ where: { id: stored.id } });
    assert.ok(used.lastUsedAt, 'the last use is recorded');
    assert.ok(used.counter > stored.counter, `the signature counter moved (${stored.counter} → ${used.counter})`);
    const events = await issuer.issuer.events.list({ userId: user.id });
    assert.ok(events.some((event) => event.type === 'passkey.registered'));
    assert.ok(events.some((event) => event.type === 'sign_in.succeeded'));
    await context.close();
  });

  it('attack: refuses an assertion replayed into another sign-in, and signs no one in', async () => {
    const { context, page } = await browserWithAuthenticator();
    const user = await issuer.createUser();
    await addPasskey(page, user, 'Phone');
    let captured: string | undefined;
    page.on('request', (request) => {
      if (request.method() === 'POST' && /\/interaction\/[^/]+\/passkey$/.test(new URL(request.url()).pathname))
        captured = new URLSearchParams(request.postData() ?? '').get('response') ?? undefined;
    });
    await openSignIn(page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await arrivedAtApp(page);
    assert.ok(captured, 'the assertion was seen on its way');

    // Another sign-in, with its own challenge: the old assertion is posted there.
    await openSignIn(page);
    const uid = new URL(page.url()).pathname.split('/').pop()!;
    const csrf = await page.locator('#passkey-sign-in input[name=csrf]').inputValue();
    const headers = { origin: issuer.url };
    assert.equal(
      (
        await page.request.post(`${issuer.url}/interaction/${uid}/passkey/options`, { form: { csrf }, headers })
      ).status(),
      200,
    );
    const replay = await page.request.post(`${issuer.url}/interaction/${uid}/passkey`, {
      form: { csrf, response: captured },
      headers,
      maxRedirects: 0,
    });
    assert.equal(replay.status(), 401);
    assert.match(await replay.text(), /That passkey was not accepted/);
    // Not a ceremony's answer at all: a clear 400 page, at the sign-in and at /account.
    for (const [garbage, status] of [
      ['not json', 400],
      ['{"no":"id"}', 400],
      ['x'.repeat(70_000), 413],
    ] as const) {
      const refused = await page.request.post(`${issuer.url}/interaction/${uid}/passkey`, {
        form: { csrf, response: garbage },
        // As a browser's form post says it: a person gets a page.
        headers: { ...headers, accept: 'text/html' },
        maxRedirects: 0,
      });
      assert.equal(refused.status(), status);
      assert.match(refused.headers()['content-type'] ?? '', /text\/html/, 'a page, for a person');
    }
    await page.goto(`${issuer.url}/account`);
    const accountCsrf = await page.locator('#passkey-add input[name=csrf]').inputValue();
    const notAdded = await page.request.post(`${issuer.url}/account/passkeys`, {
      form: { csrf: accountCsrf, response: 'not json', name: 'x' },
      headers,
      maxRedirects: 0,
    });
    assert.equal(notAdded.status(), 400);
    assert.match(await notAdded.text(), /No passkey was added/);
    await context.close();
  });

  it('refuses a passwordless sign-in when the authenticator did not verify its user', async () => {
    const { context, page, cdp, authenticatorId } = await browserWithAuthenticator();
    const user = await issuer.createUser();
    await addPasskey(page, user, 'Key without PIN');
    await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
    await openSignIn(page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    // Chromium itself may refuse (user verification required and not given), or the issuer does.
    // Chromium refuses the ceremony itself: the options require user verification.
    await page.getByText('No passkey was used').waitFor();

    // attack: a client that asks the authenticator without user verification, and posts the answer.
    await openSignIn(page);
    const uid = new URL(page.url()).pathname.split('/').pop()!;
    const csrf = await page.locator('#passkey-sign-in input[name=csrf]').inputValue();
    const headers = { origin: issuer.url };
    const options = await (
      await page.request.post(`${issuer.url}/interaction/${uid}/passkey/options`, { form: { csrf }, headers })
    ).json();
    type Browserside = { SimpleWebAuthnBrowser: { startAuthentication(request: unknown): Promise<unknown> } };
    const downgraded = await page.evaluate(async (request) => {
      const { SimpleWebAuthnBrowser } = globalThis as unknown as Browserside;
      const answer = await SimpleWebAuthnBrowser.startAuthentication({
        optionsJSON: { ...(request as object), userVerification: 'discouraged' },
      });
      return JSON.stringify(answer);
    }, options);
    const refused = await page.request.post(`${issuer.url}/interaction/${uid}/passkey`, {
      form: { csrf, response: downgraded },
      headers,
      maxRedirects: 0,
    });
    assert.equal(refused.status(), 401, 'the issuer requires user verification whatever the client asked');
    const events = await issuer.issuer.events.list({ userId: user.id });
    assert.ok(
      events.some(
        (event) =>
          event.type === 'sign_in.failed' && (event.detail as { reason?: string }).reason === 'user_not_verified',
      ),
      JSON.stringify(events.map((event) => event.detail)),
    );
    await context.close();
  });

  it('removes a passkey after a recent sign-in, and tells the owner', async () => {
    const { context, page } = await browserWithAuthenticator();
    const user = await issuer.createUser();
    await addPasskey(page, user, 'Old tablet');
    await page.getByText('Change Old tablet').click();
    await page.getByRole('button', { name: 'Remove Old tablet' }).click();
    await page.getByText('The passkey is removed').waitFor();
    assert.equal(await issuer.service.database.client.passkey.count({ where: { userId: user.id } }), 0);
    const events = await issuer.issuer.events.list({ userId: user.id });
    assert.ok(events.some((event) => event.type === 'passkey.removed'));
    await smtp.waitFor((mail) => mail.to.includes(user.email) && mail.raw.includes('A passkey was removed'));
    await context.close();
  });

  /** Signs in with the password, then with the passkey as the second factor; returns the ID token's claims. */
  async function passwordThenPasskey(page: Page, user: TestUser, screenshot?: string) {
    const { verifier, state } = await openSignIn(page);
    await signInOnPage(page, user);
    await page.getByRole('button', { name: 'Use your passkey' }).click();
    if (screenshot) await page.screenshot({ path: await artifactPath(screenshot), fullPage: true });
    return redeem(page, { verifier, state });
  }

  it('asks for the passkey after a password, as the second factor: amr pwd and hwk, no authenticator app needed', async () => {
    const { context, page } = await browserWithAuthenticator();
    const user = await issuer.createUser();
    await addPasskey(page, user, 'Laptop');
    const { verifier, state } = await openSignIn(page);
    await signInOnPage(page, user);
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await page.screenshot({ path: await artifactPath('passkeys-second-factor.png'), fullPage: true });
    assert.equal(
      await page.getByLabel('Code', { exact: true }).count(),
      0,
      'no code is asked of an account without TOTP',
    );
    await page.getByRole('button', { name: 'Use your passkey' }).click();
    const claims = await redeem(page, { verifier, state });
    assert.deepEqual(claims.amr, ['pwd', 'hwk']);
    assert.equal(claims.acr, 'urn:latchkey:mfa');
    await context.close();
  });

  it('keeps a security key that cannot be discovered or verify its user to the second factor', async () => {
    const { context, page } = await browserWithAuthenticator('securityKey');
    const user = await issuer.createUser();
    await addPasskey(page, user, 'USB key');
    // Alone it signs no one in: the browser finds no discoverable credential for this site.
    await openSignIn(page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByText('No passkey was used').waitFor();
    // After the password it is the second factor.
    const claims = await passwordThenPasskey(page, user);
    assert.deepEqual(claims.amr, ['pwd', 'hwk']);
    await context.close();
  });

  /** Redeems the code the browser arrived at the app with; returns the ID token's claims. */
  async function redeem(page: Page, { verifier, state }: { verifier: string; state: string }) {
    await arrivedAtApp(page);
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    return tokens.claims()!;
  }

  it('links an identity from another provider once the owner of the account with its address signs in with the account’s passkey', async () => {
    const upstream = await startUpstreamProvider(`${issuer.url}/federation/callback`);
    const { context, page } = await browserWithAuthenticator();
    try {
      await upstreamProviders(
        issuer.service.database.client,
        sealer(Buffer.from(TEST_KEY_ENCRYPTION_KEY, 'hex')),
      ).create({
        slug: 'corp-passkey',
        name: 'Passkey Corp',
        issuer: upstream.issuer,
        clientId: upstream.clientId,
        clientSecret: upstream.clientSecret,
      });
      const user = await issuer.createUser();
      await addPasskey(page, user, 'Laptop');
      upstream.signInAs({ sub: `corp-${user.id}`, email: user.email, email_verified: true });
      const { verifier, state } = await openSignIn(page);
      await page.getByRole('button', { name: 'Sign in with Passkey Corp' }).click();
      await page.getByRole('heading', { name: 'Link your account' }).waitFor();
      assert.equal(
        await page.getByRole('button', { name: /Email me a sign-in link/ }).count(),
        0,
        'no emailed link for a provider not trusted with addresses',
      );
      await page.screenshot({ path: await artifactPath('federation-link-passkey.png'), fullPage: true });
      await page.getByRole('button', { name: 'Use this account’s passkey instead' }).click();
      const claims = await redeem(page, { verifier, state });
      assert.equal(claims.sub, user.id);
      const links = await issuer.service.database.client.federatedIdentity.findMany({ where: { userId: user.id } });
      assert.deepEqual(
        links.map((link) => link.subject),
        [`corp-${user.id}`],
        'the passkey proved the account: linked',
      );
    } finally {
      await context.close();
      await upstream.close();
    }
  });

  it('signs in from the email field’s autofill as the page opens (conditional mediation): amr hwk and user', async () => {
    const { context, page } = await browserWithAuthenticator('platform', { autofill: true });
    const user = await issuer.createUser();
    await addPasskey(page, user, 'Phone');
    // No button is pressed: the waiting request is answered from the autofill (here, at once).
    const claims = await redeem(page, await openSignIn(page, { form: false }));
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['hwk', 'user']);
    await context.close();
  });

  it('a password sign-in goes through while a passkey autofill request waits', async () => {
    // An authenticator with no passkey for this site: the autofill request waits for good.
    const { context, page } = await browserWithAuthenticator('platform', { autofill: true });
    const user = await issuer.createUser();
    const posted: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST') posted.push(new URL(request.url()).pathname);
    });
    const started = await openSignIn(page);
    await page.waitForFunction('document.querySelector("input[name=passkey_capable]").value === "platform"');
    assert.ok(
      posted.some((path) => path.endsWith('/passkey/options')),
      'the autofill request was waiting, with its challenge',
    );
    await signInOnPage(page, user);
    await page.getByRole('button', { name: 'Not now' }).click();
    const claims = await redeem(page, started);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.ok(!posted.some((path) => /\/passkey$/.test(path)), 'no passkey answer was posted');
    await context.close();
  });

  it('offers a passkey once after a password sign-in; "Create a passkey" makes it, mails the owner and goes on to the app', async () => {
    const { context, page } = await browserWithAuthenticator();
    const user = await issuer.createUser();
    const started = await openSignIn(page);
    await signInOnPage(page, user);
    await page.getByRole('heading', { name: 'Sign in faster next time' }).waitFor();
    await page.screenshot({ path: await artifactPath('passkeys-offer.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: await artifactPath('passkeys-offer-phone.png'), fullPage: true });
    await page.getByRole('button', { name: 'Create a passkey' }).click();
    const claims = await redeem(page, started);
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['pwd'], 'the sign-in was the password; the passkey is for the next one');
    const db = issuer.service.database.client;
    const [made] = await db.passkey.findMany({ where: { userId: user.id } });
    assert.equal(made?.name, 'Passkey made at sign-in');
    await smtp.waitFor((mail) => mail.to.includes(user.email) && mail.raw.includes('A passkey was added'));
    const events = await issuer.issuer.events.list({ userId: user.id });
    assert.ok(events.some((event) => event.type === 'passkey.registered'));

    // The next sign-in uses it on its own.
    const next = await openSignIn(page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    assert.deepEqual((await redeem(page, next)).amr, ['hwk', 'user']);
    await context.close();
  });

  it('"Not now" goes on to the app, and the offer is not made again', async () => {
    const { context, page } = await browserWithAuthenticator();
    const user = await issuer.createUser();
    const first = await openSignIn(page);
    await signInOnPage(page, user);
    await page.getByRole('button', { name: 'Not now' }).click();
    assert.deepEqual((await redeem(page, first)).amr, ['pwd']);
    const second = await openSignIn(page);
    await signInOnPage(page, user);
    assert.equal((await redeem(page, second)).sub, user.id, 'straight to the app, no second offer');
    assert.equal(await issuer.service.database.client.passkey.count({ where: { userId: user.id } }), 0);
    await context.close();
  });

  it('offers no passkey on a browser that cannot make one on its device', async () => {
    const { context, page } = await browserWithAuthenticator('securityKey');
    const user = await issuer.createUser();
    const started = await openSignIn(page);
    await signInOnPage(page, user);
    assert.equal((await redeem(page, started)).sub, user.id);
    const stored = await issuer.service.database.client.user.findUniqueOrThrow({ where: { id: user.id } });
    assert.equal(stored.passkeyOfferedAt, null, 'kept for a browser that can');
    await context.close();
  });

  it('attack: the offer’s "Not now" and "Create" finish no sign-in that was not made', async () => {
    const { context, page } = await browserWithAuthenticator();
    await openSignIn(page);
    const uid = new URL(page.url()).pathname.split('/').pop()!;
    const csrf = await page.locator('#passkey-sign-in input[name=csrf]').inputValue();
    const headers = { origin: issuer.url, accept: 'text/html' };
    for (const path of ['passkey-offer/skip', 'passkey-offer', 'passkey-offer/options']) {
      const response = await page.request.post(`${issuer.url}/interaction/${uid}/${path}`, {
        form: { csrf, response: '{"id":"x"}' },
        headers,
        maxRedirects: 0,
      });
      assert.ok(response.status() >= 400 && response.status() < 500, `${path}: ${response.status()}`);
      assert.equal(response.headers().location, undefined, `${path} sends nobody back to the app`);
    }
    await context.close();
  });
});
