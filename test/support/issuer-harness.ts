import Router from '@koa/router';
import type Provider from 'oidc-provider';
import * as client from 'openid-client';
import { readForm } from '../../src/shared/http/form-body.ts';
import type { RequestState } from '../../src/shared/http/request-context.ts';
import { passwordHasher } from '../../src/accounts/passwords.ts';
import { userRepository } from '../../src/accounts/user-repository.ts';
import { clientRepository } from '../../src/issuer/clients/client-repository.ts';
import { clientService, type NewClient } from '../../src/issuer/clients/client-service.ts';
import { buildIssuerApp, type IssuerApp } from '../../src/issuer/issuer-app.ts';
import { issuerService } from '../../src/issuer/issuer-service.ts';
import type { PrismaClient } from '../../src/shared/database/generated/issuer/client.ts';
import { startService, type RunningService } from '../../src/shared/lifecycle/service.ts';
import { temporaryDirectory, testConfig } from './environment.ts';
import { freePort } from './processes.ts';
import { UserAgent } from './user-agent.ts';

export const TEST_PASSWORD = 'correct horse battery staple';

export interface IssuerHarness {
  url: string;
  taskApi: string;
  service: RunningService<PrismaClient>;
  issuer: IssuerApp;
  createClient(input: Omit<NewClient, 'name'> & { name?: string }): Promise<{ id: string; secret: string | undefined }>;
  createUser(options?: { role?: 'user' | 'admin'; email?: string }): Promise<{ id: string; email: string }>;
  discover(clientId: string, secret?: string): Promise<client.Configuration>;
  /** Runs the browser part of Authorization Code + PKCE and returns the URL the issuer redirected to. */
  authorize(config: client.Configuration, user: { email: string; id?: string; secondFactor?: boolean }, parameters: Record<string, string> & { redirect_uri: string }): Promise<{ callbackUrl: URL; verifier: string; state: string; agent: UserAgent }>;
  stop(): Promise<void>;
}

/**
 * TEST ONLY, mounted by this harness and never by the issuer's own composition: finishes a login as
 * if the person had also passed a second factor. Stands in for the TOTP step until it exists.
 */
function testOnlyRoutes(provider: () => Provider): Router<RequestState> {
  const router = new Router<RequestState>();
  router.post('/test-only/interaction/:uid/second-factor-login', async (ctx) => {
    const { accountId } = Object.fromEntries(await readForm(ctx)) as { accountId: string };
    const redirectTo = await provider().interactionResult(ctx.req, ctx.res, { login: { accountId, amr: ['pwd', 'otp'], acr: 'urn:latchkey:mfa' } }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });
  return router;
}

let counter = 0;
const unique = () => `${process.pid}-${Date.now().toString(36)}-${(counter += 1)}`;

export async function startIssuer(overrides: Record<string, string> = {}): Promise<IssuerHarness> {
  const dir = await temporaryDirectory();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const taskApi = overrides.TASK_API_URL ?? 'http://127.0.0.1:4999';
  const config = testConfig(dir.path, { ISSUER_URL: url, ISSUER_PORT: String(port), TASK_API_URL: taskApi, LOG_LEVEL: 'warn', ...overrides });
  let issuer!: IssuerApp;
  const service = await startService(
    {
      ...issuerService,
      buildApp: async (dependencies) => {
        issuer = await buildIssuerApp(dependencies, { extraRoutes: testOnlyRoutes });
        return issuer.app;
      },
    },
    config,
  );
  const db = service.database.client;
  const clients = clientService(clientRepository(db), { taskApi });
  const users = userRepository(db);
  const passwords = passwordHasher();

  return {
    url,
    taskApi,
    service,
    issuer,
    async createClient(input) {
      const { client: created, secret } = await clients.create({ name: `test client ${unique()}`, ...input });
      return { id: created.id, secret };
    },
    async createUser(options = {}) {
      const email = options.email ?? `user-${unique()}@example.com`;
      const user = await users.create({ email, passwordHash: await passwords.hash(TEST_PASSWORD), role: options.role ?? 'user', emailVerified: true });
      return { id: user.id, email: user.email };
    },
    async discover(clientId, secret) {
      const config = await client.discovery(new URL(url), clientId, undefined, secret ? client.ClientSecretBasic(secret) : client.None(), { execute: [client.allowInsecureRequests] });
      return config;
    },
    async authorize(config, user, parameters) {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const redirectUri = parameters.redirect_uri;
      const authorizationUrl = client.buildAuthorizationUrl(config, {
        scope: 'openid email offline_access tasks:read tasks:write',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        ...parameters,
      });
      const agent = new UserAgent();
      const redirectOrigin = new URL(redirectUri).origin;
      let { response, url: at } = await agent.follow(authorizationUrl, url);
      if (at.origin === url && at.pathname.startsWith('/interaction/')) {
        await response.body?.cancel();
        ({ response, url: at } = user.secondFactor
          ? await agent.submitForm(new URL(`/test-only${at.pathname}/second-factor-login`, url), { accountId: user.id! }, url)
          : await agent.submitForm(new URL(`${at.pathname}/login`, url), { email: user.email, password: TEST_PASSWORD }, url));
      }
      await response.body?.cancel();
      if (at.origin !== redirectOrigin) throw new Error(`authorization did not reach the client (stopped at ${at.href} with ${response.status})`);
      return { callbackUrl: at, verifier, state, agent };
    },
    async stop() {
      await service.stop();
      await dir.remove();
    },
  };
}
