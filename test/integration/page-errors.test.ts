import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as client from 'openid-client';
import {
  APP_REDIRECT_URI,
  openSignIn,
  startIssuerWithApp,
  TEST_PASSWORD,
  type IssuerHarness,
} from '../support/issuer-harness.ts';
import { UserAgent } from '../support/user-agent.ts';

/** The page's way forward: the one link in its navigation. */
const wayForward = (html: string) => /<nav class="links"><a href="([^"]+)">([^<]+)<\/a>/.exec(html)?.slice(1, 3);

async function expectPage(response: Response, status: number, words: RegExp) {
  assert.equal(response.status, status);
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
  const html = await response.text();
  assert.match(html, words);
  assert.doesNotMatch(html, /"error":/, 'no JSON envelope in a page');
  return html;
}

describe('people get pages with a way forward, API clients keep JSON', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;
  before(async () => {
    ({ issuer, config } = await startIssuerWithApp({ SIGN_UP_ENABLED: 'false' }));
  });
  after(() => issuer.stop());

  it('an expired sign-in form shows a page that starts the same sign-in again', async () => {
    const { agent, response, interaction, action } = await openSignIn(issuer, config);
    await response.body?.cancel();
    const { response: refused } = await agent.submitForm(
      action,
      { csrf: 'a-token-from-an-old-tab', email: 'someone@example.com', password: TEST_PASSWORD },
      issuer.url,
    );
    const html = await expectPage(refused, 403, /This form has expired/);
    assert.deepEqual(wayForward(html), [interaction, 'Start again']);
    // The way forward works: the same sign-in, with a fresh form.
    const again = await agent.request(new URL(interaction, issuer.url));
    await expectPage(again, 200, /name="password"/);
  });

  it('a sign-in form sent again after the sign-in finished shows the expired page, not an error envelope', async () => {
    const user = await issuer.createUser();
    const { agent, response, action } = await openSignIn(issuer, config);
    await response.body?.cancel();
    const fields = { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD };
    const first = await agent.submitForm(action, fields, issuer.url);
    assert.equal(first.url.origin, new URL(APP_REDIRECT_URI).origin, 'the first submit finished the sign-in');
    const second = await agent.submitForm(action, fields, issuer.url);
    const html = await expectPage(second.response, 400, /This sign-in has expired/);
    assert.equal(wayForward(html)?.[0], '/account');
  });

  it('an unknown sign-in shows "This sign-in has expired" with a link to the account page', async () => {
    const response = await new UserAgent().request(new URL('/interaction/no-such-sign-in', issuer.url), {
      headers: { accept: 'text/html' },
    });
    const html = await expectPage(response, 400, /This sign-in has expired/);
    assert.equal(wayForward(html)?.[0], '/account');
  });

  it('a disabled sign-up shows a not-found page with a link to the account page', async () => {
    const response = await fetch(new URL('/sign-up', issuer.url), { headers: { accept: 'text/html' } });
    const html = await expectPage(response, 404, /There is no page at this address/);
    assert.equal(wayForward(html)?.[0], '/account');
  });

  it('a stale reset link shows an expired-link page', async () => {
    const response = await fetch(new URL(`/reset/${'x'.repeat(43)}`, issuer.url), { headers: { accept: 'text/html' } });
    await expectPage(response, 410, /expired or was already used/);
  });

  it('an API client asking for JSON still gets the error envelope', async () => {
    const response = await fetch(new URL('/sign-up', issuer.url), { headers: { accept: 'application/json' } });
    assert.equal(response.status, 404);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await response.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'not_found');
  });
});
