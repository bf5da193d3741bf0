import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Koa from 'koa';
import * as client from 'openid-client';
import { adminResource } from '../../src/issuer/admin/admin-api.ts';
import { APP_REDIRECT_URI, startIssuerWithMail, TEST_PASSWORD, type IssuerHarness } from '../support/issuer-harness.ts';
import { linkIn, type SmtpPeer } from '../support/smtp-peer.ts';
import {
  startUpstreamProvider,
  type UpstreamAccount,
  type UpstreamProviderFixture,
} from '../support/upstream-provider.ts';
import { UserAgent } from '../support/user-agent.ts';

let counter = 0;
const unique = (name: string) => `${name}-${process.pid}-${(counter += 1)}`;

/** A GitHub-like OAuth 2.0 server: authorize (straight back), token, user, and emails with one unverified. */
async function startGithubStub(
  user: { id: number; login: string; name: string },
  emails: Array<{ email: string; primary: boolean; verified: boolean }>,
) {
  const app = new Koa();
  const codes = new Map<string, true>();
  app.use(async (ctx) => {
    if (ctx.path === '/login/oauth/authorize') {
      const code = `code-${Math.random().toString(36).slice(2)}`;
      codes.set(code, true);
      const back = new URL(String(ctx.query.redirect_uri));
      back.searchParams.set('code', code);
      back.searchParams.set('state', String(ctx.query.state));
      return ctx.redirect(back.href);
    }
    if (ctx.path === '/login/oauth/access_token' && ctx.method === 'POST') {
      const body = await new Promise<string>((resolve) => {
        let text = '';
        ctx.req.on('data', (chunk: Buffer) => (text += chunk.toString()));
        ctx.req.on('end', () => resolve(text));
      });
      const code = new URLSearchParams(body).get('code') ?? '';
      if (!codes.delete(code)) return void ((ctx.status = 400), (ctx.body = { error: 'bad_verification_code' }));
      ctx.body = { access_token: 'gho_stub_token', token_type: 'bearer', scope: 'read:user,user:email' };
      return;
    }
    if (ctx.get('authorization') !== 'Bearer gho_stub_token') return void (ctx.status = 401);
    if (ctx.path === '/user') ctx.body = { ...user, avatar_url: 'https://avatars.example.com/u/1' };
    else if (ctx.path === '/user/emails') ctx.body = emails;
    else ctx.status = 404;
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('sign-in through another identity provider', () => {
  let issuer: IssuerHarness;
  let config: client.Configuration;
  let upstream: UpstreamProviderFixture;
  let adminToken: string;
  let smtp: SmtpPeer;
  let stop: () => Promise<void>;

  before(async () => {
    ({ issuer, config, smtp, stop } = await startIssuerWithMail({
      CLIENT_CACHE_TTL_SECONDS: '0',
      LOCKOUT_IP_MAX_FAILURES: '1000',
    }));
    upstream = await startUpstreamProvider(`${issuer.url}/federation/callback`);
    const audience = adminResource(issuer.url).audience;
    const admin = await issuer.createClient({
      type: 'service',
      resources: [audience],
      scopes: ['admin:read', 'admin:write'],
      roles: ['admin'],
    });
    adminToken = (
      await client.clientCredentialsGrant(await issuer.discover(admin.id, admin.secret), {
        scope: 'admin:read admin:write',
      })
    ).access_token;
    await issuer.roles.create({ name: 'staff', description: 'Staff' });
  });
  after(async () => {
    await upstream?.close();
    await stop?.();
  });

  async function admin(method: string, path: string, body?: unknown) {
    const response = await fetch(`${issuer.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  }

  /** Registers the upstream through the admin API, as an operator would. */
  async function register(overrides: Record<string, unknown> = {}) {
    const slug = unique('up');
    const created = await admin('POST', '/identity-providers', {
      slug,
      name: 'Example Corp',
      issuer: upstream.issuer,
      clientId: upstream.clientId,
      clientSecret: upstream.clientSecret,
      scopes: ['openid', 'email', 'profile', 'groups'],
      allowSignUp: true,
      trustEmailVerified: true,
      claimMappings: [
        { claim: 'name', field: 'name', sync: 'import' },
        { claim: 'locale', field: 'locale', sync: 'force' },
      ],
      roleMappings: [
        { claim: 'groups', value: 'admins', role: 'admin', sync: 'force' },
        { claim: 'groups', value: 'staff', role: 'staff', sync: 'import' },
      ],
      ...overrides,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.redirectUri, `${issuer.url}/federation/callback`);
    assert.equal(created.body.clientSecret, undefined, 'the secret is never shown back');
    return slug;
  }

  /**
   * The browser's whole trip: the app's sign-in, the provider's button, the upstream (which signs
   * `account` in), back through Latchkey's callback, to wherever Latchkey ends up.
   */
  async function signInThrough(slug: string, account: UpstreamAccount, agent = new UserAgent()) {
    upstream.signInAs(account);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const start = await agent.follow(
      client.buildAuthorizationUrl(config, {
        redirect_uri: APP_REDIRECT_URI,
        scope: 'openid email profile',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        prompt: 'login',
      }),
      issuer.url,
    );
    const loginPage = await start.response.text();
    assert.match(loginPage, new RegExp(`/federate/${slug}`), 'the sign-in page has the provider’s button');
    const interaction = start.url.pathname;
    const toUpstream = await agent.submitForm(
      new URL(`${interaction}/federate/${slug}`, issuer.url),
      { csrf: agent.formToken() },
      issuer.url,
    );
    await toUpstream.response.body?.cancel();
    assert.equal(toUpstream.url.origin, new URL(upstream.issuer).origin);
    const back = await agent.follow(toUpstream.url, new URL(upstream.issuer).origin);
    await back.response.body?.cancel();
    const done = await agent.follow(back.url, issuer.url);
    return { agent, interaction, verifier, state, callback: back.url, ...done };
  }

  /** An app's sign-in opened in `agent` and the provider's button pressed: where the browser is sent (the upstream). */
  async function pressProviderButton(agent: UserAgent, slug: string) {
    const start = await agent.follow(
      client.buildAuthorizationUrl(config, {
        redirect_uri: APP_REDIRECT_URI,
        scope: 'openid',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }),
      issuer.url,
    );
    await start.response.text();
    const toUpstream = await agent.submitForm(
      new URL(`${start.url.pathname}/federate/${slug}`, issuer.url),
      { csrf: agent.formToken() },
      issuer.url,
    );
    await toUpstream.response.body?.cancel();
    return toUpstream;
  }

  async function tokensFrom(result: Awaited<ReturnType<typeof signInThrough>>) {
    await result.response.body?.cancel();
    assert.equal(
      result.url.origin,
      new URL(APP_REDIRECT_URI).origin,
      `ended at ${result.url.href} (${result.response.status})`,
    );
    return client.authorizationCodeGrant(config, result.url, {
      pkceCodeVerifier: result.verifier,
      expectedState: result.state,
    });
  }

  const userByEmail = (email: string) =>
    issuer.service.database.client.user.findUnique({
      where: { email },
      include: { roles: { include: { role: true } } },
    });
  const roleNames = (user: Awaited<ReturnType<typeof userByEmail>>) => user!.roles.map((held) => held.role.name).sort();

  it('makes an account on a first sign-in, with the mapped profile and roles, and the app gets tokens (amr fed)', async () => {
    const slug = await register();
    const email = `${unique('ada')}@example.com`;
    const tokens = await tokensFrom(
      await signInThrough(slug, {
        sub: unique('sub'),
        email,
        email_verified: true,
        name: 'Ada Lovelace',
        locale: 'en-GB',
        groups: ['staff'],
      }),
    );
    const claims = tokens.claims()!;
    assert.deepEqual(claims.amr, ['fed']);
    assert.equal(claims.acr, 'urn:latchkey:fed');
    const user = await userByEmail(email);
    assert.equal(user?.name, 'Ada Lovelace');
    assert.equal(user?.locale, 'en-GB');
    assert.equal(user?.emailVerified, true, 'a trusted provider’s verified address is confirmed');
    assert.deepEqual(roleNames(user), ['staff', 'user']);
    const events = (await issuer.issuer.events.list({ userId: user.id, limit: 20 })).map((event) => event.type);
    assert.ok(
      events.includes('federation.linked') &&
        events.includes('federation.mapped') &&
        events.includes('sign_in.succeeded'),
    );
  });

  it('updates forced mappings at the next sign-in and leaves imported ones as they were', async () => {
    const slug = await register();
    const person = {
      sub: unique('sub'),
      email: `${unique('grace')}@example.com`,
      email_verified: true,
      name: 'Grace',
      locale: 'en-US',
      groups: ['admins', 'staff'],
    };
    await tokensFrom(await signInThrough(slug, person));
    assert.deepEqual(roleNames(await userByEmail(person.email)), ['admin', 'staff', 'user']);
    await tokensFrom(await signInThrough(slug, { ...person, name: 'Someone Else', locale: 'fr-FR', groups: [] }));
    const user = await userByEmail(person.email);
    assert.deepEqual(
      roleNames(user),
      ['staff', 'user'],
      'the forced admin role went with its group; the imported staff role stayed',
    );
    assert.equal(user?.locale, 'fr-FR', 'forced');
    assert.equal(user?.name, 'Grace', 'imported once');
  });

  it('does not carry over an untrusted provider’s email_verified', async () => {
    const slug = await register({ trustEmailVerified: false });
    const email = `${unique('lin')}@example.com`;
    await tokensFrom(await signInThrough(slug, { sub: unique('sub'), email, email_verified: true }));
    assert.equal((await userByEmail(email))?.emailVerified, false);
  });

  it('never links by email alone: the local password is asked, a wrong one links nothing, the right one links', async () => {
    const slug = await register();
    const local = await issuer.createUser();
    const person = { sub: unique('sub'), email: local.email, email_verified: true };
    const first = await signInThrough(slug, person);
    assert.equal(first.response.status, 200);
    const page = await first.response.text();
    assert.match(page, /Link your account/);
    const identities = () => issuer.service.database.client.federatedIdentity.count({ where: { userId: local.id } });
    const wrong = await first.agent.submitForm(
      new URL(`${first.interaction}/federation/link`, issuer.url),
      { csrf: first.agent.formToken(), password: 'not the password' },
      issuer.url,
    );
    assert.equal(wrong.response.status, 401);
    assert.match(await wrong.response.text(), /That password is not this account/);
    assert.equal(await identities(), 0, 'a wrong password links nothing');
    const right = await first.agent.submitForm(
      new URL(`${first.interaction}/federation/link`, issuer.url),
      { csrf: first.agent.formToken(), password: TEST_PASSWORD },
      issuer.url,
    );
    const tokens = await tokensFrom({ ...first, ...right });
    assert.equal(tokens.claims()!.sub, local.id);
    assert.equal(await identities(), 1);
    const again = await tokensFrom(await signInThrough(slug, person));
    assert.deepEqual(again.claims()!.amr, ['fed'], 'linked: the next sign-in goes straight through');
  });

  /** On the link page of `first`: asks for a sign-in link to `email`, opens it in the same browser and signs in with it. */
  async function signInByMailedLink(first: Awaited<ReturnType<typeof signInThrough>>, email: string) {
    const before = smtp.messages.length;
    const sent = await first.agent.submitForm(
      new URL(`${first.interaction}/magic-link`, issuer.url),
      { csrf: first.agent.formToken(), email },
      issuer.url,
    );
    assert.match(await sent.response.text(), /Check your email/);
    const link = linkIn(
      await smtp.waitFor((mail) => mail.to.includes(email) && smtp.messages.indexOf(mail) >= before),
      /\/magic\//,
    );
    await (await first.agent.request(link)).text();
    const signedIn = await first.agent.submitForm(link, { csrf: first.agent.formToken() }, issuer.url);
    return { ...first, ...signedIn };
  }

  it('links through a link mailed to the address, for a provider trusted with addresses that says it is verified', async () => {
    const slug = await register({ trustEmailVerified: true });
    const local = await issuer.createUser();
    const first = await signInThrough(slug, { sub: unique('sub'), email: local.email, email_verified: true });
    assert.match(await first.response.text(), /Email me a sign-in link/, 'the link page offers the emailed link');
    const tokens = await tokensFrom(await signInByMailedLink(first, local.email));
    assert.equal(tokens.claims()!.sub, local.id);
    const identities = await issuer.service.database.client.federatedIdentity.findMany({ where: { userId: local.id } });
    assert.equal(identities.length, 1, 'the emailed link proved the address: linked');
  });

  /** The emailed link is not offered, and a sign-in by one anyway signs the owner in and links nothing. */
  async function mailedLinkLinksNothing(trustEmailVerified: boolean, emailVerified: boolean) {
    const slug = await register({ trustEmailVerified });
    const local = await issuer.createUser();
    const first = await signInThrough(slug, { sub: unique('sub'), email: local.email, email_verified: emailVerified });
    assert.doesNotMatch(await first.response.text(), /Email me a sign-in link/, 'not offered');
    const tokens = await tokensFrom(await signInByMailedLink(first, local.email));
    assert.equal(tokens.claims()!.sub, local.id, 'the owner is signed in');
    assert.equal(await issuer.service.database.client.federatedIdentity.count({ where: { userId: local.id } }), 0);
  }

  it('attack: a sign-in by emailed link does not link an identity from a provider not trusted with addresses', async () => {
    // Whoever registered the victim's address upstream must not get linked by the victim's own click.
    await mailedLinkLinksNothing(false, true);
  });

  it('does not link through an emailed link when the trusted provider says the address is not verified', async () => {
    await mailedLinkLinksNothing(true, false);
  });

  it('refuses a disabled local account through its linked provider', async () => {
    const slug = await register();
    const person = { sub: unique('sub'), email: `${unique('dis')}@example.com`, email_verified: true };
    await tokensFrom(await signInThrough(slug, person));
    await issuer.service.database.client.user.update({
      where: { email: person.email },
      data: { disabledAt: new Date() },
    });
    const refused = await signInThrough(slug, person);
    assert.equal(refused.response.status, 403);
    assert.match(await refused.response.text(), /This account is disabled/);
  });

  it('refuses an address outside the allowed domains, and a new person where sign-up is closed, with pages that say so', async () => {
    const domains = await register({ allowedDomains: ['corp.example'] });
    const outside = await signInThrough(domains, {
      sub: unique('sub'),
      email: `${unique('x')}@gmail.example`,
      email_verified: true,
    });
    assert.equal(outside.response.status, 403);
    assert.match(await outside.response.text(), /not in a domain allowed/);
    const closed = await register({ allowSignUp: false });
    const stranger = await signInThrough(closed, {
      sub: unique('sub'),
      email: `${unique('y')}@example.com`,
      email_verified: true,
    });
    assert.equal(stranger.response.status, 403);
    assert.match(await stranger.response.text(), /No account here yet/);
  });

  it('attack: a callback forced on another browser signs nobody in there', async () => {
    const slug = await register();
    const attacker = new UserAgent();
    upstream.signInAs({ sub: unique('sub'), email: `${unique('mallory')}@example.com`, email_verified: true });
    const toUpstream = await pressProviderButton(attacker, slug);
    const back = await attacker.follow(toUpstream.url, new URL(upstream.issuer).origin);
    await back.response.body?.cancel();
    // The attacker stops here and sends the callback link to a victim.
    const victim = new UserAgent();
    const landed = await victim.follow(back.url, issuer.url);
    assert.notEqual(landed.url.origin, new URL(APP_REDIRECT_URI).origin, 'the victim’s browser is not signed in');
    assert.ok(landed.response.status >= 400);
    await landed.response.body?.cancel();
    const replay = await new UserAgent().follow(back.url, issuer.url);
    assert.equal(replay.response.status, 400, 'a callback is used once');
    await replay.response.body?.cancel();
  });

  it('says the upstream refused when it answers with an error, without its words', async () => {
    const slug = await register();
    const agent = new UserAgent();
    upstream.signInAs({ sub: unique('sub'), email: `${unique('z')}@example.com` });
    const toUpstream = await pressProviderButton(agent, slug);
    const state = toUpstream.url.searchParams.get('state')!;
    const callback = new URL(`${issuer.url}/federation/callback`);
    callback.search = new URLSearchParams({
      state,
      error: 'access_denied',
      error_description: '<script>upstream words</script>',
    }).toString();
    const landed = await agent.follow(callback, issuer.url);
    assert.equal(landed.response.status, 403);
    const page = await landed.response.text();
    assert.match(page, /Sign-in cancelled/);
    assert.doesNotMatch(page, /upstream words/);
  });

  it('links a provider from /account whatever its address, and refuses to unlink the last way to sign in', async () => {
    const slug = await register();
    const local = await issuer.createUser();
    const agent = new UserAgent();
    const opened = await agent.follow(new URL('/account', issuer.url), issuer.url);
    await opened.response.body?.cancel();
    const signedIn = await agent.submitForm(
      new URL(`${opened.url.pathname}/login`, issuer.url),
      { csrf: agent.formToken(), email: local.email, password: TEST_PASSWORD },
      issuer.url,
    );
    assert.match(await signedIn.response.text(), /Link Example Corp/);
    upstream.signInAs({ sub: unique('sub'), email: `${unique('other')}@elsewhere.example`, email_verified: true });
    const toUpstream = await agent.submitForm(
      new URL('/account/providers/link', issuer.url),
      { csrf: agent.formToken(), provider: slug },
      issuer.url,
    );
    await toUpstream.response.body?.cancel();
    const back = await agent.follow(toUpstream.url, new URL(upstream.issuer).origin);
    await back.response.body?.cancel();
    const done = await agent.follow(back.url, issuer.url);
    assert.equal(done.url.pathname, '/account');
    assert.match(await done.response.text(), /Linked: that provider now signs you in/);
    const [identity] = await issuer.service.database.client.federatedIdentity.findMany({ where: { userId: local.id } });
    assert.ok(identity);

    // An account made through the provider has no password: its only link cannot be removed.
    const person = { sub: unique('sub'), email: `${unique('only')}@example.com`, email_verified: true };
    const federated = await signInThrough(slug, person);
    await tokensFrom(federated);
    const account = await federated.agent.follow(new URL('/account', issuer.url), issuer.url);
    await account.response.text();
    const only = await issuer.service.database.client.federatedIdentity.findFirst({ where: { subject: person.sub } });
    const refused = await federated.agent.submitForm(
      new URL('/account/providers/unlink', issuer.url),
      { csrf: federated.agent.formToken(), identity: only!.id },
      issuer.url,
    );
    assert.equal(refused.response.status, 409);
    assert.match(await refused.response.text(), /only way to sign in/);
    const unlinked = await agent.submitForm(
      new URL('/account/providers/unlink', issuer.url),
      { csrf: agent.formToken(), identity: identity.id },
      issuer.url,
    );
    assert.match(await unlinked.response.text(), /Unlinked/);
  });

  it('signs in through a GitHub-like provider with its verified address, never an unverified one', async () => {
    const verified = `${unique('octo')}@example.com`;
    const github = await startGithubStub({ id: 4242, login: 'octocat', name: 'The Octocat' }, [
      { email: `${unique('unverified')}@example.com`, primary: true, verified: false },
      { email: verified, primary: false, verified: true },
    ]);
    try {
      const slug = unique('gh');
      const created = await admin('POST', '/identity-providers', {
        slug,
        preset: 'github',
        name: 'GitHub',
        issuer: github.url,
        apiBase: github.url,
        clientId: 'gh-client',
        clientSecret: 'gh-secret',
        allowSignUp: true,
        trustEmailVerified: true,
        claimMappings: [{ claim: 'login', field: 'preferred_username', sync: 'force' }],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.kind, 'github');
      const agent = new UserAgent();
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const start = await agent.follow(
        client.buildAuthorizationUrl(config, {
          redirect_uri: APP_REDIRECT_URI,
          scope: 'openid email',
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
        }),
        issuer.url,
      );
      await start.response.text();
      const toGithub = await agent.submitForm(
        new URL(`${start.url.pathname}/federate/${slug}`, issuer.url),
        { csrf: agent.formToken() },
        issuer.url,
      );
      await toGithub.response.body?.cancel();
      const back = await agent.follow(toGithub.url, github.url);
      await back.response.body?.cancel();
      const done = await agent.follow(back.url, issuer.url);
      await tokensFrom({ ...done, verifier, state, agent, interaction: '', callback: back.url });
      const user = await userByEmail(verified);
      assert.ok(user, 'the account has the verified address');
      assert.equal(user.emailVerified, true);
      assert.equal(user.preferredUsername, 'octocat');
    } finally {
      await github.close();
    }
  });
});
