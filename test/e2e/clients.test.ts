import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { buildSpaApp } from '../../src/clients/spa/spa-server.ts';
import { hashId } from '../../src/issuer/oidc/adapter.ts';
import { listen, type RunningServer } from '../../src/shared/http/http-server.ts';
import { createLogger } from '../../src/shared/logging/logger.ts';
import { artifactPath, launchBrowser, needsChromium, signInOnPage } from '../support/browser.ts';
import { temporaryDirectory, testConfig } from '../support/environment.ts';
import { freePort, spawnEntry } from '../support/processes.ts';
import { startStack, type Stack } from '../support/task-api-harness.ts';

const SPA_CLIENT = 'e2e-spa';
const CLI_CLIENT = 'e2e-cli';

/** The three demo clients against a real issuer and task API (on the suite's PostgreSQL and Redis in CI), driven by Chromium and child processes. */
describe('the three clients, end to end', { skip: needsChromium }, () => {
  let stack: Stack;
  let spa: RunningServer;
  let spaUrl: string;
  let browser: Browser;

  before(async () => {
    const spaPort = await freePort();
    spaUrl = `http://127.0.0.1:${spaPort}`;
    stack = await startStack({
      issuerOverrides: { SPA_URL: spaUrl, ACCESS_TOKEN_TTL_SECONDS: '15' },
      apiOverrides: { SPA_URL: spaUrl },
    });
    await stack.issuer.createClient({
      id: SPA_CLIENT,
      name: 'Latchkey Tasks (e2e)',
      type: 'spa',
      redirectUris: [`${spaUrl}/`],
      postLogoutRedirectUris: [`${spaUrl}/`],
      firstParty: true,
    });
    await stack.issuer.createClient({ id: CLI_CLIENT, name: 'taskctl (e2e)', type: 'cli', firstParty: true });
    const dir = await temporaryDirectory();
    const config = testConfig(dir.path, {
      ISSUER_URL: stack.issuer.url,
      TASK_API_URL: stack.apiUrl,
      SPA_URL: spaUrl,
      SPA_PORT: String(spaPort),
      SPA_CLIENT_ID: SPA_CLIENT,
      LOG_LEVEL: 'warn',
    });
    spa = await listen(
      buildSpaApp(config, createLogger({ level: 'warn', format: 'json', name: 'spa' })),
      spaPort,
      '127.0.0.1',
    );
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await spa?.close(1_000);
    await stack?.stop();
  });

  const refreshTokenRecord = (token: string) =>
    stack.issuer.service.database.client.oidcRecord.findUnique({
      where: { kind_idHash: { kind: 'RefreshToken', idHash: hashId(token) } },
    });

  it('browser app: signs in with password and TOTP, adds a task, survives a reload and a token expiry, signs out and the refresh token is gone', async () => {
    const user = await stack.issuer.createUser({ totp: true });
    const page = await browser.newPage({ viewport: { width: 800, height: 700 } });
    const refreshTokens: string[] = [];
    const tokenRequests: string[] = [];
    page.on('request', (request) => {
      if (request.url() === `${stack.issuer.url}/token` && request.method() === 'POST')
        tokenRequests.push(new URLSearchParams(request.postData() ?? '').get('grant_type') ?? '');
    });
    page.on('response', async (response) => {
      if (response.url() !== `${stack.issuer.url}/token` || response.request().method() !== 'POST') return;
      const body = (await response.json().catch(() => ({}))) as { refresh_token?: string };
      if (body.refresh_token) refreshTokens.push(body.refresh_token);
    });

    await page.goto(spaUrl);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await signInOnPage(page, user);
    await page.waitForURL(`${spaUrl}/`);
    await page.getByText(user.email).waitFor();

    await page.getByLabel('New task').fill('Buy oat milk');
    await page.getByRole('button', { name: 'Add' }).click();
    await page.locator('#tasks li', { hasText: 'Buy oat milk' }).waitFor();

    // Assigned by address: a colleague who has used the app once (with the email scope) is found by it.
    const colleague = await stack.userToken({ scopes: 'openid email tasks:read tasks:write' });
    assert.equal((await stack.call('GET', '/tasks/mine', colleague.token)).status, 200);
    page.once('dialog', (dialog) => void dialog.accept(colleague.email));
    // Each task's buttons are named after it, for a screen reader.
    await page.getByRole('button', { name: 'Assign: Buy oat milk' }).click();
    await page.locator('#tasks li', { hasText: `assigned to ${colleague.email}` }).waitFor();
    await page.screenshot({ path: await artifactPath('spa-tasks.png'), fullPage: true });

    // Tokens live in memory only: a reload signs in again through the issuer's session, with no page,
    // saying so meanwhile (the code exchange is held here for a moment so the state can be seen).
    await page.route(`${stack.issuer.url}/token`, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 700));
      await route.continue();
    });
    await page.reload();
    await page.getByText('Signing you in…').waitFor();
    await page.screenshot({ path: await artifactPath('spa-signing-in.png'), fullPage: true });
    await page.locator('#tasks li', { hasText: 'Buy oat milk' }).waitFor();
    await page.unroute(`${stack.issuer.url}/token`);

    // The access token lives 15 s and is renewed 10 s before it ends: after 6 s the next call refreshes first.
    const before = tokenRequests.filter((grant) => grant === 'refresh_token').length;
    await page.waitForTimeout(6_000);
    await page.getByRole('button', { name: 'Reload' }).click();
    await page.locator('#tasks li', { hasText: 'Buy oat milk' }).waitFor();
    await page.waitForTimeout(300);
    assert.ok(
      tokenRequests.filter((grant) => grant === 'refresh_token').length > before,
      'a refresh-token grant was made',
    );

    const latest = refreshTokens.at(-1)!;
    assert.ok(await refreshTokenRecord(latest), 'the current refresh token exists before sign-out');
    await page.getByRole('button', { name: 'Sign out' }).click();
    // The app revokes its refresh token and ends the issuer's session with its ID token as the hint:
    // no second question at the issuer, straight back to the app.
    await page.waitForURL(`${spaUrl}/`);
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    await page.screenshot({ path: await artifactPath('spa-signed-out.png'), fullPage: true });
    assert.equal(await refreshTokenRecord(latest), null, 'the refresh token no longer exists');
    // The issuer's session is over too: a fresh load does not sign silently back in.
    await page.reload();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    assert.equal(await page.getByText(user.email).count(), 0);
    await page.close();
  });

  it('browser app: says "you can\'t do that" when the API answers 403', async () => {
    const user = await stack.issuer.createUser();
    const owner = await stack.userToken();
    const task = await stack.call('POST', '/tasks', owner.token, { title: 'Assigned to you, owned by someone else' });
    const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
    await page.goto(spaUrl);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await signInOnPage(page, user);
    await page.locator('#tasks li.empty').waitFor();
    // Signed in and shown the list, the person is a user of the API, whom a task can be assigned to. The assignee sees the
    // task in their list, may work on it, but may not hand it on: only its owner can.
    assert.equal(
      (await stack.call('PUT', `/tasks/${String(task.body.id)}/assignee`, owner.token, { assignee: user.id })).status,
      200,
    );
    await page.getByRole('button', { name: 'Reload' }).click();
    const row = page.locator('#tasks li', { hasText: 'Assigned to you, owned by someone else' });
    await row.waitFor();
    page.once('dialog', (dialog) => void dialog.accept(owner.email));
    await row.getByRole('button', { name: 'Assign: Assigned to you, owned by someone else' }).click();
    await page.getByText('You can’t do that').waitFor();
    await page.screenshot({ path: await artifactPath('spa-forbidden.png'), fullPage: true });
    await page.close();
  });

  it('taskctl: logs in with the device grant confirmed in a browser, adds and lists a task, and logout revokes', async () => {
    const user = await stack.issuer.createUser();
    const configDir = await temporaryDirectory();
    const env = {
      ISSUER_URL: stack.issuer.url,
      TASK_API_URL: stack.apiUrl,
      TASKCTL_CLIENT_ID: CLI_CLIENT,
      TASKCTL_CONFIG_DIR: configDir.path,
      HOME: configDir.path,
    };
    const taskctl = async (...args: string[]) => {
      const run = spawnEntry('src/clients/cli/taskctl.ts', env, args);
      const { code } = await run.exited;
      return {
        code,
        output: run.output(),
        json: run
          .output()
          .split('\n')
          .filter((line) => line.startsWith('{') || line.startsWith('['))
          .map((line) => JSON.parse(line) as unknown),
      };
    };
    try {
      assert.equal((await taskctl('tasks', 'list')).code, 2, 'exit 2 before login');

      const login = spawnEntry('src/clients/cli/taskctl.ts', env, ['login', '--no-browser', '--json']);
      await login.waitForOutput(/"user_code"/);
      const started = JSON.parse(
        login
          .output()
          .split('\n')
          .find((line) => line.includes('user_code'))!,
      ) as { verification_uri: string; user_code: string };
      const page = await browser.newPage({ viewport: { width: 420, height: 760 } });
      await page.goto(started.verification_uri);
      await page.locator('input[name=user_code]').fill(started.user_code);
      await page.screenshot({ path: await artifactPath('device-code-entry.png'), fullPage: true });
      await page.getByRole('button', { name: 'Continue' }).click();
      // The device page names the client; the person signs in, then allows the device as who they are.
      await page.getByRole('heading', { name: 'A device wants to sign in' }).waitFor();
      await page.screenshot({ path: await artifactPath('device-confirm.png'), fullPage: true });
      await page.getByRole('button', { name: 'Continue' }).click();
      await signInOnPage(page, user);
      await page.getByRole('heading', { name: 'Allow this device?' }).waitFor();
      await page.getByText(`Signed in as ${user.email}`).waitFor();
      await page.screenshot({ path: await artifactPath('device-allow.png'), fullPage: true });
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.getByRole('heading', { name: 'Device connected' }).waitFor();
      await page.screenshot({ path: await artifactPath('device-connected.png'), fullPage: true });
      await page.close();
      assert.equal((await login.exited).code, 0, login.output());
      assert.match(login.output(), /"signedIn":true/);

      const credentials = path.join(configDir.path, 'credentials.json');
      assert.equal((await stat(credentials)).mode & 0o777, 0o600);
      assert.equal((await stat(path.join(configDir.path, 'dpop-key.json'))).mode & 0o777, 0o600);

      const added = await taskctl('tasks', 'add', 'Write the report', '--json');
      assert.equal(added.code, 0, added.output);
      const listed = await taskctl('tasks', 'list', '--json');
      assert.equal(listed.code, 0);
      assert.ok((listed.json[0] as Array<{ title: string }>).some((task) => task.title === 'Write the report'));
      assert.doesNotMatch(listed.output + added.output, /eyJ/, 'no token is ever printed');
      assert.equal((await taskctl('tasks', 'show', '00000000-0000-4000-8000-000000000000')).code, 4);

      const { refreshToken } = JSON.parse(await (await import('node:fs/promises')).readFile(credentials, 'utf8')) as {
        refreshToken: string;
      };
      assert.ok(await refreshTokenRecord(refreshToken));
      assert.equal((await taskctl('logout')).code, 0);
      assert.equal(await refreshTokenRecord(refreshToken), null, 'logout revoked the refresh token at the issuer');
      assert.equal((await taskctl('whoami')).code, 2);
    } finally {
      await configDir.remove();
    }
  });

  it('worker: claims and completes a task a user created, which the user then sees done; a user token on the worker route fails', async () => {
    const user = await stack.userToken();
    const created = await stack.call('POST', '/tasks', user.token, { title: 'Process the queue' });
    assert.equal(created.status, 201);
    const service = await stack.issuer.createClient({ type: 'service' });
    const worker = spawnEntry('src/clients/worker/main.ts', {
      ISSUER_URL: stack.issuer.url,
      TASK_API_URL: stack.apiUrl,
      WORKER_CLIENT_ID: service.id,
      WORKER_CLIENT_SECRET: service.secret,
      WORKER_IDLE_MAX_MS: '500',
    });
    try {
      let status = '';
      for (let i = 0; i < 60 && status !== 'done'; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        status = String((await stack.call('GET', `/tasks/${String(created.body.id)}`, user.token)).body.status);
      }
      assert.equal(status, 'done', worker.output());
      assert.equal((await stack.call('GET', '/worker/tasks/next', user.token)).status, 403);
    } finally {
      worker.child.kill('SIGTERM');
    }
    const { code } = await worker.exited;
    assert.equal(code, 0);
    const lines = worker
      .output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string });
    assert.ok(lines.some((line) => line.msg === 'completed a task'));
    assert.ok(lines.some((line) => line.msg === 'worker stopped'));
    assert.doesNotMatch(worker.output(), new RegExp(service.secret!));
  });
});
