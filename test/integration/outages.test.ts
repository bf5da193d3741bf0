import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { REAL_POSTGRES_URL, REAL_REDIS_URL } from '../support/environment.ts';
import {
  APP_REDIRECT_URI,
  openSignIn,
  startIssuer,
  TEST_PASSWORD,
  type IssuerHarness,
} from '../support/issuer-harness.ts';
import { redisServerAvailable, startRedisServer } from '../support/redis-server.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { UserAgent } from '../support/user-agent.ts';

const DEADLINE_MS = 5_000;

interface Answer {
  name: string;
  status: number;
  ms: number;
  retryAfter: string | null;
}

/**
 * What each kind of caller sends during an outage: a refresh, a service's token, discovery, the
 * start of a sign-in, a sign-in form post, the account page, a reset request, readiness.
 */
async function requestsDuringOutage(
  issuer: IssuerHarness,
  state: Awaited<ReturnType<typeof prepare>>,
): Promise<Answer[]> {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const requests: Record<string, () => Promise<Response>> = {
    refresh: () =>
      fetch(`${issuer.url}/token`, {
        method: 'POST',
        headers: { ...form, authorization: basic(state.web.id, state.web.secret!) },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: state.refreshToken }),
        signal: AbortSignal.timeout(DEADLINE_MS),
      }),
    clientCredentials: () =>
      fetch(`${issuer.url}/token`, {
        method: 'POST',
        headers: { ...form, authorization: basic(state.service.id, state.service.secret!) },
        body: 'grant_type=client_credentials',
        signal: AbortSignal.timeout(DEADLINE_MS),
      }),
    discovery: () =>
      fetch(`${issuer.url}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(DEADLINE_MS) }),
    authorize: () =>
      state.agent.request(state.authorizationUrl, {
        headers: { accept: 'text/html' },
        signal: AbortSignal.timeout(DEADLINE_MS),
      }),
    signInPost: () =>
      state.agent.request(state.loginAction, {
        method: 'POST',
        headers: { ...form, origin: issuer.url, accept: 'text/html' },
        body: new URLSearchParams({ email: state.email, password: TEST_PASSWORD, csrf: state.csrf }).toString(),
        signal: AbortSignal.timeout(DEADLINE_MS),
      }),
    account: () =>
      new UserAgent().request(`${issuer.url}/account`, {
        headers: { accept: 'text/html' },
        signal: AbortSignal.timeout(DEADLINE_MS),
      }),
    readyz: () => fetch(`${issuer.url}/readyz`, { signal: AbortSignal.timeout(DEADLINE_MS) }),
  };
  return Promise.all(
    Object.entries(requests).map(async ([name, send]) => {
      const started = performance.now();
      try {
        const response = await send();
        await response.body?.cancel();
        return {
          name,
          status: response.status,
          ms: performance.now() - started,
          retryAfter: response.headers.get('retry-after'),
        };
      } catch (error) {
        return { name, status: 0, ms: performance.now() - started, retryAfter: null, error: (error as Error).message };
      }
    }),
  );
}

async function prepare(issuer: IssuerHarness) {
  const web = await issuer.createClient({ type: 'web', redirectUris: [APP_REDIRECT_URI], firstParty: true });
  const service = await issuer.createClient({ type: 'service' });
  const config = await issuer.discover(web.id, web.secret);
  const user = await issuer.createUser();
  const { callbackUrl, verifier, state } = await issuer.authorize(config, user, { redirect_uri: APP_REDIRECT_URI });
  const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  const signIn = await openSignIn(
    issuer,
    await issuer.discover(
      (await issuer.createClient({ type: 'spa', redirectUris: [APP_REDIRECT_URI], firstParty: true })).id,
    ),
  );
  const csrf = /name="csrf" value="([^"]+)"/.exec(await signIn.response.text())?.[1] ?? '';
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: APP_REDIRECT_URI,
    scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  return {
    web,
    service,
    config,
    refreshToken: tokens.refresh_token!,
    agent: signIn.agent,
    loginAction: signIn.action,
    csrf,
    email: user.email,
    authorizationUrl,
  };
}

function assertAnsweredCleanly(answers: Answer[]): void {
  for (const answer of answers) {
    assert.ok(answer.status !== 0, `${answer.name} got no answer within ${DEADLINE_MS} ms`);
    assert.ok(answer.ms < DEADLINE_MS, `${answer.name} took ${Math.round(answer.ms)} ms`);
    assert.ok(answer.status < 500 || answer.status === 503, `${answer.name} answered ${answer.status}`);
    if (answer.status === 503 && answer.name !== 'readyz')
      assert.ok(Number(answer.retryAfter) > 0, `${answer.name}: 503 without Retry-After`);
  }
}

describe(
  'outages: Redis goes away',
  { skip: (!REAL_REDIS_URL || !redisServerAvailable()) && 'needs real Redis (REDIS_URL) and redis-server' },
  () => {
    let issuer: IssuerHarness;
    let redis: Awaited<ReturnType<typeof startRedisServer>>;
    let state: Awaited<ReturnType<typeof prepare>>;

    before(async () => {
      redis = await startRedisServer();
      issuer = await startIssuer({ REDIS_URL: redis.url });
      state = await prepare(issuer);
    });
    after(async () => {
      await issuer?.stop();
      await redis?.stop();
    });

    it('answers every request within 5 s with success or 503 (never a hang, never a 500) while Redis is down, and recovers', async () => {
      await redis.kill();
      const answers = await requestsDuringOutage(issuer, state);
      process.stdout.write(
        `${JSON.stringify(answers.map(({ name, status, ms }) => [name, status, Math.round(ms)]))}\n`,
      );
      assertAnsweredCleanly(answers);
      assert.equal(answers.find((answer) => answer.name === 'readyz')?.status, 503);
      assert.equal(answers.find((answer) => answer.name === 'refresh')?.status, 503, JSON.stringify(answers));
      await redis.start();
      const deadline = Date.now() + 10_000;
      let refreshed: Response | undefined;
      while (Date.now() < deadline) {
        refreshed = await fetch(`${issuer.url}/readyz`);
        if (refreshed.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(refreshed?.status, 200, 'ready again once Redis is back');
      const tokens = await client.refreshTokenGrant(state.config, state.refreshToken);
      assert.ok(tokens.access_token, 'the refresh token survived the outage (it lives in PostgreSQL)');
    });
  },
);

describe(
  'outages: PostgreSQL goes away',
  { skip: !REAL_POSTGRES_URL && 'needs real PostgreSQL (DATABASE_URL)' },
  () => {
    let issuer: IssuerHarness;
    let proxy: TcpProxy;
    let state: Awaited<ReturnType<typeof prepare>>;

    before(async () => {
      const real = new URL(REAL_POSTGRES_URL!);
      proxy = await startTcpProxy(real.hostname, Number(real.port || 5432));
      const proxied = new URL(real);
      proxied.hostname = '127.0.0.1';
      proxied.port = String(proxy.port);
      issuer = await startIssuer({ DATABASE_URL: proxied.toString(), CLIENT_CACHE_TTL_SECONDS: '0' });
      state = await prepare(issuer);
    });
    after(async () => {
      await issuer?.stop();
      await proxy?.close();
    });

    it('answers every request within 5 s with success or 503 (never a hang, never a 500) while PostgreSQL is down, and recovers', async () => {
      await proxy.cut();
      const answers = await requestsDuringOutage(issuer, state);
      process.stdout.write(
        `${JSON.stringify(answers.map(({ name, status, ms }) => [name, status, Math.round(ms)]))}\n`,
      );
      assertAnsweredCleanly(answers);
      assert.equal(answers.find((answer) => answer.name === 'readyz')?.status, 503);
      assert.equal(answers.find((answer) => answer.name === 'refresh')?.status, 503, JSON.stringify(answers));
      await proxy.restore();
      const tokens = await client.refreshTokenGrant(state.config, state.refreshToken);
      assert.ok(tokens.access_token);
    });
  },
);
