import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { USER_CODE_GUESS_LIMITS } from '../../src/issuer/oidc/device-flow.ts';
import { APP_REDIRECT_URI, startIssuer, TEST_PASSWORD, type IssuerHarness } from '../support/issuer-harness.ts';
import { nginxAvailable, startNginx } from '../support/nginx.ts';
import { freePort } from '../support/processes.ts';
import { parseForm, UserAgent } from '../support/user-agent.ts';

/** The issuer behind a real nginx, with TRUST_PROXY=1: the client's address is the one nginx saw. */
describe('behind nginx with TRUST_PROXY=1', { skip: !nginxAvailable() && 'nginx is not installed' }, () => {
  let issuer: IssuerHarness;
  let proxy: Awaited<ReturnType<typeof startNginx>>;
  let config: client.Configuration;
  let counter = 0;
  /** A made-up client address per request, as an attacker rotating X-Forwarded-For would send. */
  const spoofed = () => `203.0.113.${(counter += 1) % 250}`;

  before(async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    issuer = await startIssuer({ ISSUER_URL: publicUrl, TRUST_PROXY: '1', LOCKOUT_IP_MAX_FAILURES: '3' });
    proxy = await startNginx(issuer.url, { port });
    const app = await issuer.createClient({ type: 'spa', redirectUris: [APP_REDIRECT_URI], firstParty: true });
    config = await client.discovery(new URL(proxy.url), app.id, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
  });
  after(async () => {
    await proxy?.stop();
    await issuer?.stop();
  });

  /** Opens a sign-in through nginx and posts one password, with a forged X-Forwarded-For. */
  async function signIn(email: string, password: string) {
    const agent = new UserAgent();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
    const { response, url: at } = await agent.follow(url, proxy.url, { headers: { 'x-forwarded-for': spoofed() } });
    const csrf = /name="csrf" value="([^"]+)"/.exec(await response.text())?.[1] ?? '';
    return agent.follow(new URL(`${at.pathname}/login`, proxy.url), proxy.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: proxy.url, 'x-forwarded-for': spoofed() },
      body: new URLSearchParams({ email, password, csrf }).toString(),
    });
  }

  it('serves discovery under the public URL that nginx fronts', async () => {
    assert.equal(config.serverMetadata().token_endpoint, `${proxy.url}/token`);
  });

  it('attack: rotating X-Forwarded-For does not escape the per-IP sign-in failure budget', async () => {
    const user = await issuer.createUser();
    for (let i = 0; i < 4; i += 1) {
      const { response } = await signIn(`nobody-${i}-${Date.now()}@example.com`, 'a wrong password here');
      await response.body?.cancel();
    }
    const { response } = await signIn(user.email, TEST_PASSWORD);
    await response.body?.cancel();
    assert.equal(response.status, 401, 'the address nginx saw has spent its budget');
    const events = await issuer.issuer.events.list({ limit: 10 });
    assert.ok(
      events.filter((event) => event.type === 'sign_in.failed').every((event) => event.ip === '127.0.0.1'),
      'the security log has the address nginx saw',
    );
  });

  it('attack: rotating X-Forwarded-For does not escape the per-IP cap on wrong device user codes', async () => {
    const statuses: number[] = [];
    for (let attempt = 0; attempt <= USER_CODE_GUESS_LIMITS.perIp; attempt += 1) {
      // A new browser each time, so only the per-IP limit can stop it.
      const agent = new UserAgent();
      const form = parseForm(
        await (await agent.request(`${proxy.url}/device`, { headers: { 'x-forwarded-for': spoofed() } })).text(),
      );
      const { response } = await agent.follow(new URL(form.action, proxy.url), proxy.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: proxy.url,
          'x-forwarded-for': spoofed(),
        },
        body: new URLSearchParams({ ...form.fields, user_code: 'BCDF-GHJK' }).toString(),
      });
      await response.body?.cancel();
      statuses.push(response.status);
    }
    assert.equal(statuses.at(-1), 429, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((status) => status === 429).length, 1);
  });
});
