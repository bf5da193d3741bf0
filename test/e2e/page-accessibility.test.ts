import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchBrowser, needsChromium, signInOnPage } from '../support/browser.ts';
import { checkPage, VIEWPORTS } from '../support/accessibility.ts';
import {
  APP_REDIRECT_URI,
  startIssuerWithMail,
  TEST_PASSWORD,
  totpCode,
  type IssuerHarness,
} from '../support/issuer-harness.ts';
import { linkIn, type SmtpPeer } from '../support/smtp-peer.ts';
import { startUpstreamProvider, type UpstreamProviderFixture } from '../support/upstream-provider.ts';
import { upstreamProviders } from '../../src/issuer/federation/upstream-providers.ts';
import { sealer } from '../../src/shared/crypto/sealing.ts';
import { TEST_KEY_ENCRYPTION_KEY } from '../support/environment.ts';

/**
 * Every page a person meets at the issuer, checked in Chromium with axe-core at desktop and phone
 * width (no serious or critical violation) and by keyboard (every control reachable with Tab), and
 * photographed for a person to look at.
 */
describe('the issuer’s pages, for everyone', { skip: needsChromium }, () => {
  let issuer: IssuerHarness;
  let smtp: SmtpPeer;
  let stop: () => Promise<void>;
  let browser: Browser;
  let config: client.Configuration;
  let thirdParty: client.Configuration;
  let device: client.Configuration;
  let upstream: UpstreamProviderFixture;

  before(async () => {
    ({ issuer, smtp, stop, config } = await startIssuerWithMail({ LOCKOUT_IP_MAX_FAILURES: '1000' }));
    const planner = await issuer.createClient({
      name: 'Planner Deluxe',
      type: 'spa',
      redirectUris: [APP_REDIRECT_URI],
      clientUri: 'https://planner.example',
      policyUri: 'https://planner.example/privacy',
    });
    thirdParty = await issuer.discover(planner.id);
    device = await issuer.discover((await issuer.createClient({ name: 'Kitchen display', type: 'cli' })).id);
    // Another identity provider, so the sign-in page has its button and the linking pages can be seen.
    upstream = await startUpstreamProvider(`${issuer.url}/federation/callback`);
    await upstreamProviders(issuer.service.database.client, sealer(Buffer.from(TEST_KEY_ENCRYPTION_KEY, 'hex'))).create(
      {
        slug: 'example-corp',
        name: 'Example Corp',
        issuer: upstream.issuer,
        clientId: upstream.clientId,
        clientSecret: upstream.clientSecret,
        allowSignUp: true,
        // Trusted with addresses, so the link page also offers the emailed link.
        trustEmailVerified: true,
      },
    );
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await upstream?.close();
    await stop?.();
  });

  const check = checkPage;

  const authorizationUrl = async (app: client.Configuration, extra: Record<string, string> = {}) =>
    client.buildAuthorizationUrl(app, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid email tasks:read',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      ...extra,
    }).href;

  async function newContext(viewport: keyof typeof VIEWPORTS): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: VIEWPORTS[viewport], bypassCSP: true });
    // The test app's redirect URI has no server behind it: answer for it.
    await context.route(`${APP_REDIRECT_URI}**`, (route) => route.fulfill({ status: 200, body: 'app' }));
    return context;
  }

  const mailLink = async (to: string, path: RegExp, after: number) =>
    linkIn(await smtp.waitFor((mail) => mail.to.includes(to) && smtp.messages.indexOf(mail) >= after), path);

  for (const viewport of Object.keys(VIEWPORTS) as Array<keyof typeof VIEWPORTS>) {
    it(`has no serious or critical accessibility problem on the sign-in pages (${viewport})`, async () => {
      const context = await newContext(viewport);
      const page = await context.newPage();
      const user = await issuer.createUser({ totp: true });
      await page.goto(await authorizationUrl(config));
      await check(page, 'sign-in', viewport);
      await page.getByLabel('Email', { exact: true }).fill(user.email);
      await page.getByLabel('Password').fill('not the password at all');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('alert').waitFor();
      await check(page, 'sign-in-refused', viewport);
      await page.getByLabel('Password').fill(TEST_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      await check(page, 'second-factor', viewport);
      await page.getByLabel('Code', { exact: true }).fill('000000');
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByRole('alert').waitFor();
      await check(page, 'second-factor-refused', viewport);
      await page.getByLabel('Code', { exact: true }).fill(await totpCode(user.totpSecret!));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL(`${APP_REDIRECT_URI}**`);

      // Signed in now: a third-party app asks for consent.
      await page.goto(await authorizationUrl(thirdParty));
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      await check(page, 'consent', viewport);

      // A device, confirmed here.
      const started = await client.initiateDeviceAuthorization(device, { scope: 'openid tasks:read' });
      await page.goto(`${issuer.url}/device`);
      await check(page, 'device-code', viewport);
      await page.getByLabel('Code from your device').fill(started.user_code);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'A device wants to sign in' }).waitFor();
      await check(page, 'device-confirm', viewport);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'Allow this device?' }).waitFor();
      await check(page, 'device-allow', viewport);

      await page.goto(`${issuer.url}/session/end`);
      await check(page, 'sign-out', viewport);
      await context.close();
    });

    it(`has no serious or critical accessibility problem on the pages of sign-in through another provider (${viewport})`, async () => {
      const context = await newContext(viewport);
      const page = await context.newPage();
      const user = await issuer.createUser();
      upstream.signInAs({ sub: `corp-${user.id}`, email: user.email, email_verified: true });
      await page.goto(await authorizationUrl(config));
      await page.getByRole('button', { name: 'Sign in with Example Corp' }).click();
      await page.getByRole('heading', { name: 'Link your account' }).waitFor();
      await check(page, 'federation-link', viewport);
      await page.getByLabel('Password', { exact: true }).fill(TEST_PASSWORD);
      await page.getByRole('button', { name: 'Link and continue' }).click();
      await page.waitForURL(`${APP_REDIRECT_URI}**`);
      await page.goto(`${issuer.url}/account`);
      await page.getByRole('heading', { name: 'Sign-in providers' }).waitFor();
      await check(page, 'account-linked-providers', viewport);
      await context.close();
    });

    it(`has no serious or critical accessibility problem on the account pages (${viewport})`, async () => {
      const context = await newContext(viewport);
      const page = await context.newPage();
      const user = await issuer.createUser();
      await page.goto(`${issuer.url}/account`);
      await signInOnPage(page, user);
      await page.getByRole('heading', { name: 'Your account' }).waitFor();
      await check(page, 'account', viewport);
      await page.goto(`${issuer.url}/account/profile`);
      await check(page, 'account-profile', viewport);
      await page.goto(`${issuer.url}/account/password`);
      await check(page, 'account-password', viewport);
      await page.goto(`${issuer.url}/account/keys`);
      await check(page, 'account-keys-empty', viewport);
      await page.getByLabel('Name').fill('CI deploy job');
      await page.getByRole('button', { name: 'Make the key' }).click();
      await page.getByRole('link', { name: 'I have copied it' }).waitFor();
      await check(page, 'account-key-created', viewport);
      await page.getByRole('link', { name: 'I have copied it' }).click();
      await page.getByRole('button', { name: 'Revoke CI deploy job' }).waitFor();
      await check(page, 'account-keys', viewport);
      await page.goto(`${issuer.url}/account`);
      await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
      await page.getByLabel('Code', { exact: true }).waitFor();
      await check(page, 'account-totp', viewport);
      const secret = (await page.locator('main code').textContent())!.replace(/\s/g, '');
      await page.getByLabel('Code', { exact: true }).fill(await totpCode(secret));
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.getByRole('link', { name: 'I have saved them' }).waitFor();
      await check(page, 'account-recovery-codes', viewport);
      await page.goto(`${issuer.url}/account`);
      await page.getByText('Turn off two-step verification…').click();
      await check(page, 'account-with-second-factor', viewport);
      await context.close();
    });

    it(`has no serious or critical accessibility problem on the mailed-link pages and message pages (${viewport})`, async () => {
      const context = await newContext(viewport);
      const page = await context.newPage();
      const user = await issuer.createUser();

      await page.goto(await authorizationUrl(config, { prompt: 'login' }));
      await page.getByText('Email me a sign-in link instead').click();
      await page.getByLabel('Email address').fill(user.email);
      let before = smtp.messages.length;
      await page.getByRole('button', { name: 'Email me a link' }).click();
      await page.getByRole('heading', { name: 'Check your email' }).waitFor();
      await check(page, 'magic-link-sent', viewport);
      await page.goto((await mailLink(user.email, /\/magic\//, before)).href);
      await check(page, 'magic-link-open', viewport);

      await page.goto(`${issuer.url}/sign-up`);
      await check(page, 'sign-up', viewport);
      const newcomer = `newcomer-${viewport}-${Date.now()}@example.com`;
      await page.getByLabel('Email').fill(newcomer);
      before = smtp.messages.length;
      await page.getByRole('button', { name: 'Send me the link' }).click();
      await page.getByRole('heading', { name: 'Check your email' }).waitFor();
      await check(page, 'sign-up-sent', viewport);
      await page.goto((await mailLink(newcomer, /^\/verify-email\//, before)).href);
      await check(page, 'sign-up-finish', viewport);
      await page.getByLabel('Password').fill('aaaaaaaaaaaaaaaa');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByRole('alert').waitFor();
      await check(page, 'sign-up-finish-refused', viewport);

      await page.goto(`${issuer.url}/reset`);
      await check(page, 'reset', viewport);
      await page.getByLabel('Email').fill(user.email);
      before = smtp.messages.length;
      await page.getByRole('button', { name: 'Send reset link' }).click();
      await page.getByRole('heading', { name: 'Check your email' }).waitFor();
      await page.goto((await mailLink(user.email, /^\/reset\//, before)).href);
      await check(page, 'reset-form', viewport);

      await page.goto(`${issuer.url}/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
      await check(page, 'link-expired', viewport);
      await page.goto(`${issuer.url}/no-such-page`);
      await check(page, 'not-found', viewport);
      await context.close();
    });
  }
});
