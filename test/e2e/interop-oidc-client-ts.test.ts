import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { artifactPath, launchBrowser, needsChromium } from '../support/browser.ts';
import { startIssuer, TEST_PASSWORD, type IssuerHarness } from '../support/issuer-harness.ts';
import { freePort, projectRoot } from '../support/processes.ts';

/** A relying party page: oidc-client-ts (its own browser bundle) with a UserManager on `window.rp`. */
const page = (issuer: string, clientId: string, origin: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>oidc-client-ts relying party</title>
<script src="/oidc-client-ts.js"></script></head>
<body><p id="status">loading</p>
<script>
  const mgr = new oidc.UserManager({
    authority: ${JSON.stringify(issuer)},
    client_id: ${JSON.stringify(clientId)},
    redirect_uri: ${JSON.stringify(`${origin}/callback`)},
    post_logout_redirect_uri: ${JSON.stringify(`${origin}/`)},
    response_type: 'code',
    scope: 'openid email',
    loadUserInfo: true,
    automaticSilentRenew: false,
  });
  window.rp = { mgr, result: null, error: null };
  if (location.pathname === '/callback') {
    mgr.signinRedirectCallback().then(
      (user) => { window.rp.result = { sub: user.profile.sub, email: user.profile.email, hasRefreshToken: !!user.refresh_token, accessToken: user.access_token }; document.getElementById('status').textContent = 'signed in as ' + user.profile.email; },
      (error) => { window.rp.error = String(error); document.getElementById('status').textContent = 'error: ' + error; },
    );
  } else document.getElementById('status').textContent = 'ready';
</script></body></html>`;

const READY = "document.getElementById('status').textContent === 'ready'";

describe('interoperability: oidc-client-ts in Chromium', { skip: needsChromium }, () => {
  let issuer: IssuerHarness;
  let browser: Browser;
  let server: Server;
  let origin: string;
  let clientId: string;

  before(async () => {
    issuer = await startIssuer();
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    clientId = (
      await issuer.createClient({
        type: 'spa',
        redirectUris: [`${origin}/callback`],
        postLogoutRedirectUris: [`${origin}/`],
        firstParty: true,
      })
    ).id;
    const bundle = await readFile(
      path.join(projectRoot, 'node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js'),
    );
    server = createServer((req, res) => {
      if (req.url === '/oidc-client-ts.js') {
        res.setHeader('content-type', 'text/javascript');
        res.end(bundle);
        return;
      }
      res.setHeader('content-type', 'text/html');
      res.end(page(issuer.url, clientId, origin));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    server?.close();
    await issuer?.stop();
  });

  it('signs in (code + PKCE), loads userinfo, refreshes, revokes and signs out', async () => {
    const user = await issuer.createUser();
    const tab = await browser.newPage();
    // Every answer the library got, bar the browser's own favicon requests, was a success.
    const failures: string[] = [];
    tab.on('response', (response) => {
      if (response.status() >= 400 && !response.url().endsWith('/favicon.ico'))
        failures.push(`${response.status()} ${response.request().method()} ${response.url()}`);
    });
    await tab.goto(`${origin}/`);
    await tab.waitForFunction(READY);
    // Navigates away: start it without waiting on the page that is about to go.
    await tab.evaluate('void window.rp.mgr.signinRedirect()');
    await tab.waitForURL(`${issuer.url}/interaction/**`);
    await tab.getByLabel('Email', { exact: true }).fill(user.email);
    await tab.getByLabel('Password').fill(TEST_PASSWORD);
    await tab.getByRole('button', { name: 'Sign in', exact: true }).click();
    await tab.waitForURL(`${origin}/callback**`);
    await tab.waitForFunction('window.rp.result !== null || window.rp.error !== null');
    const signedIn = await tab.evaluate<{ result: unknown; error: unknown }>(
      '({ result: window.rp.result, error: window.rp.error })',
    );
    assert.equal(signedIn.error, null, String(signedIn.error));
    const result = signedIn.result as { sub: string; email: string; hasRefreshToken: boolean; accessToken: string };
    assert.equal(result.sub, user.id);
    assert.equal(result.email, user.email, 'the email came from userinfo');
    assert.equal(result.hasRefreshToken, true);
    await tab.screenshot({ path: await artifactPath('oidc-client-ts-signed-in.png') });

    const renewed = await tab.evaluate<string | null>(
      'window.rp.mgr.signinSilent().then((user) => user && user.access_token)',
    );
    assert.ok(renewed && renewed !== result.accessToken, 'a refresh gave a new access token');

    const revoked = await tab.evaluate(
      "window.rp.mgr.revokeTokens(['refresh_token']).then(() => 'ok', (error) => String(error))",
    );
    assert.equal(revoked, 'ok');

    // The library sends its ID token as id_token_hint: the issuer signs out without asking again.
    await tab.evaluate('void window.rp.mgr.signoutRedirect()');
    await tab.waitForURL(`${origin}/`);
    await tab.waitForFunction(READY);
    assert.deepEqual(failures, []);
    await tab.close();
  });
});
