import QRCode from 'qrcode';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { artifactPath, launchBrowser, needsChromium } from '../support/browser.ts';
import {
  APP_REDIRECT_URI,
  startIssuerWithApp,
  TEST_PASSWORD,
  totpCode,
  type IssuerHarness,
} from '../support/issuer-harness.ts';
import { linkIn, startSmtpPeer } from '../support/smtp-peer.ts';

/** A real browser (Chromium) through the sign-in pages, with screenshots kept in test-results/screenshots. */
describe('sign-in in a real browser', { skip: needsChromium }, () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;
  let browser: Browser;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;

  before(async () => {
    smtp = await startSmtpPeer();
    ({ issuer, config } = await startIssuerWithApp({ SMTP_URL: smtp.url }));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await issuer?.stop();
    await smtp?.close();
  });

  /**
   * Starts an Authorization Code + PKCE sign-in for the test app in a phone-sized page. The app itself
   * is not running here: its redirect URI is answered so the browser has somewhere to land.
   */
  async function openAppSignIn(state: string) {
    const verifier = client.randomPKCECodeVerifier();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid tasks:read',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const page = await browser.newPage({ viewport: { width: 420, height: 760 } });
    await page.route(`${APP_REDIRECT_URI}**`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: '<p>app</p>' }),
    );
    await page.goto(authorizationUrl.href);
    return { page, verifier };
  }

  it('signs in with password and TOTP and reaches the app with a code', async () => {
    const user = await issuer.createUser({ totp: true });
    const { page, verifier } = await openAppSignIn('browser-state');
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.screenshot({ path: await artifactPath('sign-in-password.png'), fullPage: true });
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await page.getByLabel('Code', { exact: true }).fill(await totpCode(user.totpSecret!));
    await page.screenshot({ path: await artifactPath('sign-in-totp.png'), fullPage: true });
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${APP_REDIRECT_URI}**`);
    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get('state'), 'browser-state');
    const tokens = await client.authorizationCodeGrant(config, landed, {
      pkceCodeVerifier: verifier,
      expectedState: 'browser-state',
    });
    assert.ok(tokens.access_token);
    const cookies = await page.context().cookies(issuer.url);
    const session = cookies.find((cookie) => cookie.name === 'latchkey.session');
    assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(session?.sameSite, 'Lax');
    await page.close();
  });

  it('signs in with an emailed link: the link page asks for a click, then the app gets a code', async () => {
    const user = await issuer.createUser();
    const { page, verifier } = await openAppSignIn('magic-state');
    await page.getByText('Email me a sign-in link instead').click();
    await page.getByLabel('Email address').fill(user.email);
    await page.screenshot({ path: await artifactPath('magic-link-request.png'), fullPage: true });
    await page.getByRole('button', { name: 'Email me a link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    await page.screenshot({ path: await artifactPath('magic-link-sent.png'), fullPage: true });
    const link = linkIn(await smtp.waitFor((mail) => mail.to.includes(user.email)), /\/magic\//);

    // The same link opened in another browser (a phone, say) shows a code instead of signing that browser in.
    const phone = await browser.newContext({ viewport: { width: 390, height: 700 } });
    const phonePage = await phone.newPage();
    await phonePage.goto(link.href);
    await phonePage.getByRole('heading', { name: 'Sign in on your other device' }).waitFor();
    await phonePage.screenshot({ path: await artifactPath('magic-link-other-device.png'), fullPage: true });
    await phone.close();

    await page.goto(link.href);
    await page.screenshot({ path: await artifactPath('magic-link-open.png'), fullPage: true });
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${APP_REDIRECT_URI}**`);
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), {
      pkceCodeVerifier: verifier,
      expectedState: 'magic-state',
    });
    const accessClaims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString('utf8')) as {
      amr?: string[];
    };
    assert.deepEqual(accessClaims.amr, ['email'], 'the access token says how the person signed in');
    await page.close();
  });

  it('answers an expired sign-in form with a page whose "Start again" leads back to the same sign-in', async () => {
    const user = await issuer.createUser();
    const { page } = await openAppSignIn('expired-form');
    const signInUrl = page.url();
    // An old tab: the form's token no longer matches this sign-in.
    await page
      .locator('input[name="csrf"]')
      .first()
      .evaluate((input) => void ((input as unknown as { value: string }).value = 'stale'));
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    const [response] = await Promise.all([
      page.waitForResponse((answer) => answer.request().method() === 'POST'),
      page.getByRole('button', { name: 'Sign in', exact: true }).click(),
    ]);
    assert.equal(response.status(), 403);
    await page.getByRole('heading', { name: 'This page has expired' }).waitFor();
    assert.match(await page.content(), /This form has expired/);
    await page.screenshot({ path: await artifactPath('sign-in-expired-form.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: await artifactPath('sign-in-expired-form-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 420, height: 900 });
    await page.getByRole('link', { name: 'Start again' }).click();
    await page.getByLabel('Password').waitFor();
    assert.equal(page.url(), signInUrl, 'the same sign-in, with a fresh form');
    await page.close();
  });

  it('edits the profile on the account page: a refused field is named beside it, then the saved profile shows', async () => {
    const user = await issuer.createUser();
    const page = await browser.newPage({ viewport: { width: 420, height: 900 } });
    await page.goto(`${issuer.url}/account`);
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await page.getByRole('link', { name: 'Edit your profile' }).click();
    await page.getByLabel('Full name').fill('Ada Lovelace');
    await page.getByLabel('Time zone').fill('Europe/London');
    await page.getByLabel('Picture').fill('https://example.com/ada.png');
    await page.getByLabel('Username').fill('ada lovelace');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByText('Use letters, digits, ".", "_" and "-" only.').waitFor();
    assert.equal(await page.getByLabel('Username').getAttribute('aria-invalid'), 'true');
    await page.screenshot({ path: await artifactPath('account-profile-refused.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: await artifactPath('account-profile-refused-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 420, height: 900 });
    await page.getByLabel('Username').fill('ada.lovelace');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByText('Your profile is saved.').waitFor();
    assert.match(await page.content(), /Ada Lovelace[\s\S]*Europe\/London/);
    await page.screenshot({ path: await artifactPath('account-profile-saved.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: await artifactPath('account-profile-saved-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 420, height: 900 });
    await page.close();
  });

  it('shows a third-party app on the consent page with its logo, home page, policy and terms, and allowing it reaches the app', async () => {
    const user = await issuer.createUser();
    const created = await issuer.createClient({
      name: 'Planner Deluxe',
      type: 'spa',
      redirectUris: [APP_REDIRECT_URI],
      logoUri: 'https://cdn.planner.example/logo.png',
      clientUri: 'https://planner.example',
      policyUri: 'https://planner.example/privacy',
      tosUri: 'https://planner.example/terms',
    });
    const app = await issuer.discover(created.id);
    const page = await browser.newPage({ viewport: { width: 420, height: 760 } });
    // No network here: the logo is answered locally, as the app's CDN would.
    const logo = await QRCode.toBuffer('Planner Deluxe', { margin: 1, scale: 4, color: { dark: '#0b5cad' } });
    await page.route('https://cdn.planner.example/**', (route) =>
      route.fulfill({ contentType: 'image/png', body: logo }),
    );
    await page.route(`${APP_REDIRECT_URI}**`, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<p>app</p>' }),
    );
    const url = client.buildAuthorizationUrl(app, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid email profile tasks:read',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    const logoShown = await page
      .locator('img.client-logo')
      .evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
    assert.ok(logoShown > 0, 'the logo loaded under the page CSP');
    assert.equal(
      await page.getByRole('link', { name: 'privacy policy' }).getAttribute('href'),
      'https://planner.example/privacy',
    );
    assert.equal(
      await page.getByRole('link', { name: 'terms of service' }).getAttribute('href'),
      'https://planner.example/terms',
    );
    await page.screenshot({ path: await artifactPath('consent-third-party.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: await artifactPath('consent-third-party-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 420, height: 900 });
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${APP_REDIRECT_URI}**`);
    assert.ok(new URL(page.url()).searchParams.get('code'));
    await page.close();
  });
});
