import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { checkPage, VIEWPORTS, type Viewport } from '../support/accessibility.ts';
import { launchBrowser, needsChromium } from '../support/browser.ts';
import {
  APP_REDIRECT_URI,
  startIssuerWithApp,
  TEST_PASSWORD,
  totpCode,
  type IssuerHarness,
  type TestUser,
} from '../support/issuer-harness.ts';
import { startUpstreamProvider, type UpstreamProviderFixture } from '../support/upstream-provider.ts';

/**
 * The admin console in Chromium: an administrator (password and TOTP) sets up an API, a role, a
 * user and an application through the pages; the user's token then carries the permission; the
 * administrator disables the user and the refresh fails. Every page is checked with axe and by
 * keyboard, at desktop and phone width, and photographed.
 */
describe('the admin console', { skip: needsChromium }, () => {
  let issuer: IssuerHarness;
  let browser: Browser;
  let app: client.Configuration;
  let upstream: UpstreamProviderFixture;

  before(async () => {
    ({ issuer, config: app } = await startIssuerWithApp({ LOCKOUT_IP_MAX_FAILURES: '1000' }));
    upstream = await startUpstreamProvider(`${issuer.url}/federation/callback`);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await upstream?.close();
    await issuer?.stop();
  });

  const newContext = (viewport: Viewport): Promise<BrowserContext> =>
    browser.newContext({ viewport: VIEWPORTS[viewport], bypassCSP: true });

  /** Signs in at the issuer's page the console sent the browser to (password, then a TOTP code when enrolled). */
  async function signIn(page: Page, user: TestUser): Promise<void> {
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    if (user.totpSecret) {
      await page.getByLabel('Code', { exact: true }).fill(await totpCode(user.totpSecret));
      await page.getByRole('button', { name: 'Verify' }).click();
    }
  }

  for (const viewport of Object.keys(VIEWPORTS) as Viewport[]) {
    it(`lets an administrator set up an API, a role, a user and an app, then disable the user (${viewport})`, async () => {
      const suffix = `${viewport}-${Date.now().toString(36)}`;
      const api = `https://reports-${suffix}.example.com`;
      const role = `report-reader-${suffix}`;
      const admin = await issuer.createUser({ roles: ['admin'], totp: true });
      const context = await newContext(viewport);
      const page = await context.newPage();
      await page.goto(`${issuer.url}/admin`);
      await signIn(page, admin);
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      await checkPage(page, 'console-overview', viewport);

      await page.getByRole('link', { name: 'APIs and roles' }).click();
      await page.getByRole('heading', { name: 'APIs and roles' }).waitFor();
      await page.getByText('Register an API…').click();
      await page.getByLabel(/^Identifier/).fill(api);
      await page.getByLabel('Name', { exact: true }).first().fill('Reports');
      await page.getByLabel(/^Scopes/).fill('reports:read Read reports\nreports:write Write reports');
      await page.getByRole('button', { name: 'Register the API' }).click();
      await page.getByText('The API is registered.').waitFor();
      await page.getByText('Create a role…').click();
      await page.getByRole('textbox', { name: 'Name', exact: true }).last().fill(role);
      await page.getByLabel(`reports:read at ${api}`).check();
      await page.getByRole('button', { name: 'Create the role' }).click();
      await page.getByText(`The role ${role} is created.`).waitFor();
      await checkPage(page, 'console-apis', viewport);
      // The matrix's role page: a permission ticked, saved, then unticked again.
      await page.getByRole('link', { name: role }).click();
      await page.getByRole('heading', { name: `Role ${role}` }).waitFor();
      await page.getByLabel(`reports:write at Reports`).last().check();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Saved.').waitFor();
      assert.equal(await page.getByLabel(`reports:write at Reports`).last().isChecked(), true);
      await page.getByText('No person holds this role').waitFor();
      await checkPage(page, 'console-role', viewport);
      await page.getByLabel(`reports:write at Reports`).last().uncheck();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Saved.').waitFor();
      await page.getByRole('link', { name: 'APIs and roles', exact: true }).click();
      await page.getByRole('link', { name: 'Reports' }).first().click();
      await page.getByRole('heading', { name: 'Reports' }).waitFor();
      await checkPage(page, 'console-api', viewport);
      await page.getByRole('link', { name: 'APIs and roles', exact: true }).click();

      await page.getByRole('link', { name: 'Users' }).click();
      await page.getByRole('heading', { name: 'Users' }).waitFor();
      const email = `reader-${suffix}@example.com`;
      await page.getByLabel('Email', { exact: true }).fill(email);
      await page.getByLabel('Password', { exact: true }).fill(TEST_PASSWORD);
      await page.getByLabel('The address is confirmed').check();
      await page.getByLabel(role, { exact: true }).check();
      await page.getByRole('button', { name: 'Create the user' }).click();
      await page.getByText('The user is created.').waitFor();
      await checkPage(page, 'console-user', viewport);
      const userPage = page.url();
      await page.getByRole('link', { name: 'Users' }).click();
      await page.getByRole('link', { name: email }).waitFor();
      await checkPage(page, 'console-users', viewport);

      await page.getByRole('link', { name: 'Applications' }).click();
      await page.getByLabel('Name', { exact: true }).fill(`Reports web ${suffix}`);
      await page.getByLabel('Type').selectOption('web');
      await page.getByLabel(/^Redirect URIs/).fill(APP_REDIRECT_URI);
      await page.getByLabel(`Reports ${api}`).check();
      await page.getByLabel('First-party (skips the consent page)').check();
      await page.getByRole('button', { name: 'Register' }).click();
      await page.getByRole('heading', { name: 'Application created' }).waitFor();
      const secret = await page.getByLabel('Client secret').inputValue();
      const clientId = (await page.locator('main table code').nth(2).textContent())!;
      assert.match(secret, /^lk_cs_/);
      await checkPage(page, 'console-application-created', viewport);
      await page.getByRole('link', { name: 'Back to applications' }).click();
      await checkPage(page, 'console-applications', viewport);
      await page.getByRole('link', { name: `Reports web ${suffix}` }).click();
      await page.getByLabel('Privacy policy').fill('https://reports.example.com/privacy');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Saved.').waitFor();
      await checkPage(page, 'console-application', viewport);
      assert.equal(
        (await issuer.service.database.client.client.findUnique({ where: { id: clientId } }))?.policyUri,
        'https://reports.example.com/privacy',
      );
      await page.getByLabel('Privacy policy').fill('http://not-https.example.com');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText(/must use https/).waitFor();

      // The user signs in to the new application: the token carries the role's permission.
      const config = await issuer.discover(clientId, secret);
      const reader = { id: '', email };
      const { callbackUrl, verifier, state } = await issuer.authorize(config, reader, {
        redirect_uri: APP_REDIRECT_URI,
        scope: 'openid offline_access reports:read reports:write',
        resource: api,
      });
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      assert.equal(decodeJwt(tokens.access_token).scope, 'reports:read', 'the role gives read, not write');
      assert.ok(tokens.refresh_token);

      // The administrator disables the user; the app's refresh fails from then on.
      await page.goto(userPage);
      await page.getByRole('button', { name: 'Disable' }).click();
      await page.getByText('The account is disabled').waitFor();
      await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token));

      // A key of the user's pasted somewhere: revoked from its full text.
      const admin2 = await issuer.createUser();
      const leaked = await issuer.issuer.apiKeys.create(
        { userId: admin2.id },
        { name: `pasted ${suffix}`, permissions: [`${issuer.taskApi} tasks:read`] },
      );
      await page.getByRole('link', { name: 'Keys and providers' }).click();
      await page.getByRole('heading', { name: 'Keys, providers and webhooks' }).waitFor();
      await page.getByText('Revoke a leaked key…').click();
      await page.getByLabel('The key, in full').fill(leaked.key);
      await page.getByRole('button', { name: 'Revoke it' }).click();
      await page.getByText('The leaked key is revoked.').waitFor();
      assert.notEqual((await issuer.issuer.apiKeys.find(leaked.record.id))?.revokedAt, null);
      await checkPage(page, 'console-integrations', viewport);

      await page.getByRole('link', { name: 'Security log' }).click();
      await page.getByRole('heading', { name: 'Security log' }).waitFor();
      await page.getByLabel('Type').fill('admin.user_disabled');
      await page.getByLabel('IP address').fill('127.0.0.1');
      await page.getByLabel('From').fill(new Date().toISOString().slice(0, 10));
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('admin.user_disabled').first().waitFor();
      assert.equal(await page.getByText('admin.roles_assigned').count(), 0, 'only the type asked for');
      await checkPage(page, 'console-log', viewport);
      await context.close();
    });
  }

  for (const viewport of Object.keys(VIEWPORTS) as Viewport[]) {
    it(`lets an administrator add another identity provider, change its mappings and remove it (${viewport})`, async () => {
      const suffix = `${viewport}-${Date.now().toString(36)}`;
      const slug = `corp-${suffix}`;
      const name = `Corp ${suffix}`;
      const role = `corp-staff-${suffix}`;
      await issuer.roles.create({ name: role, description: 'Staff of the corporation' });
      const admin = await issuer.createUser({ roles: ['admin'], totp: true });
      const context = await newContext(viewport);
      const page = await context.newPage();
      await page.goto(`${issuer.url}/admin/integrations`);
      await signIn(page, admin);
      await page.getByRole('heading', { name: 'Keys, providers and webhooks' }).waitFor();
      await page.getByText('Add an identity provider…').click();
      await page.getByLabel('Slug').fill(slug);
      await page.getByLabel(/^Name/).fill(name);
      await page.getByLabel(/^Issuer URL/).fill(upstream.issuer);
      await page.getByLabel('Client id at the provider').fill(upstream.clientId);
      await page.getByLabel('Client secret at the provider').fill(upstream.clientSecret);
      await page.getByLabel(/^Scopes/).fill('openid email profile groups');
      await page.getByLabel(/makes an account/).check();
      await page.getByRole('button', { name: 'Add the provider' }).click();
      await page.getByText('Registered.').waitFor();
      await page.getByRole('heading', { name }).waitFor();
      await page.getByText(`${issuer.url}/federation/callback`).waitFor();

      // A line that is not a mapping is named back and nothing is saved; a good one is saved.
      await page.getByLabel(/^Role mappings/).fill('groups staff');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('“groups staff” is not a role mapping').waitFor();
      await page.getByLabel(/^Role mappings/).fill(`groups:staff=${role}:force`);
      await page.getByLabel(/^Claim mappings/).fill('name=name');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Saved.').waitFor();
      await checkPage(page, 'console-provider', viewport);
      const stored = await issuer.service.database.client.upstreamProvider.findUniqueOrThrow({ where: { slug } });
      assert.deepEqual(stored.roleMappings, [{ claim: 'groups', value: 'staff', role, sync: 'force' }]);
      assert.notEqual(stored.clientSecretSealed, upstream.clientSecret, 'the secret is stored sealed');

      // The provider works: a new person signs in through it and holds the mapped role.
      const email = `newcomer-${suffix}@example.com`;
      upstream.signInAs({ sub: `sub-${suffix}`, email, email_verified: true, name: 'New Comer', groups: ['staff'] });
      const visitor = await browser.newContext();
      await visitor.route(`${APP_REDIRECT_URI}**`, (route) => route.fulfill({ status: 200, body: 'app' }));
      const signInPage = await visitor.newPage();
      const button = signInPage.getByRole('button', { name: `Sign in with ${name}` });
      // Each instance reads the buttons at most every CLIENT_CACHE_TTL_SECONDS (5): a page opened
      // sooner after the change may not have it yet, as a person reloading would find.
      for (let tries = 0; tries < 10 && (await button.count()) === 0; tries += 1) {
        if (tries) await signInPage.waitForTimeout(1000);
        await signInPage.goto(
          client.buildAuthorizationUrl(app, {
            redirect_uri: APP_REDIRECT_URI,
            scope: 'openid',
            code_challenge: client.randomPKCECodeVerifier().slice(0, 43),
            code_challenge_method: 'S256',
          }).href,
        );
        await signInPage.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
      }
      await button.click();
      await signInPage.waitForURL(`${APP_REDIRECT_URI}**`);
      const newcomer = await issuer.service.database.client.user.findUniqueOrThrow({
        where: { email },
        include: { roles: { include: { role: true } } },
      });
      assert.ok(
        newcomer.roles.some((held) => held.role.name === role),
        'the mapped role is held',
      );
      assert.equal(newcomer.name, 'New Comer');
      await visitor.close();

      await page.getByRole('button', { name: `Remove ${name}` }).click();
      await page.getByText('The provider and every link to it are removed.').waitFor();
      assert.equal(await issuer.service.database.client.upstreamProvider.count({ where: { slug } }), 0);
      assert.equal(await issuer.service.database.client.federatedIdentity.count({ where: { userId: newcomer.id } }), 0);
      await context.close();
    });
  }

  it('answers 403 to a person without the admin role', async () => {
    const person = await issuer.createUser();
    const context = await newContext('desktop');
    const page = await context.newPage();
    await page.goto(`${issuer.url}/admin`);
    await signIn(page, person);
    await page.getByRole('heading', { name: 'Not an administrator' }).waitFor();
    const response = await page.reload();
    assert.equal(response?.status(), 403);
    await context.close();
  });

  it('says a change needs a recent second factor, changes nothing, and asks for it', async () => {
    const admin = await issuer.createUser({ roles: ['admin'] });
    const target = await issuer.createUser();
    const context = await newContext('desktop');
    const page = await context.newPage();
    await page.goto(`${issuer.url}/admin/users/${target.id}`);
    await signIn(page, admin);
    await page.getByText('Changes need your second factor from the last 15 minutes').waitFor();
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    await checkPage(page, 'console-step-up', 'desktop');
    await page.setViewportSize(VIEWPORTS.phone);
    await checkPage(page, 'console-step-up', 'phone');
    const user = await issuer.service.database.client.user.findUnique({ where: { id: target.id } });
    assert.equal(user?.disabledAt, null, 'nothing was changed');
    await page.getByRole('button', { name: 'Sign in again' }).click();
    await page.getByLabel('Password').waitFor();
    await context.close();
  });

  it('refuses a console form posted from another site', async () => {
    const admin = await issuer.createUser({ roles: ['admin'], totp: true });
    const target = await issuer.createUser();
    const context = await newContext('desktop');
    const page = await context.newPage();
    await page.goto(`${issuer.url}/admin/users/${target.id}`);
    await signIn(page, admin);
    await page.getByRole('button', { name: 'Disable' }).waitFor();
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const answer = await page.request.post(`${issuer.url}/admin/users/${target.id}/act/disable`, {
      form: { csrf },
      headers: { origin: 'https://evil.example' },
      maxRedirects: 0,
    });
    assert.equal(answer.status(), 403);
    const user = await issuer.service.database.client.user.findUnique({ where: { id: target.id } });
    assert.equal(user?.disabledAt, null);
    await context.close();
  });
});
