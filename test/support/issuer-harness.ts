import type { Writable } from 'node:stream';
import { generate } from 'otplib';
import * as client from 'openid-client';
import { RECOVERY_CODE_KEY_PURPOSE, secondFactor } from '../../src/accounts/second-factor.ts';
import { sealer, subkey } from '../../src/shared/crypto/sealing.ts';
import { passwordHasher } from '../../src/accounts/passwords.ts';
import { userRepository } from '../../src/accounts/user-repository.ts';
import { clientRepository } from '../../src/issuer/clients/client-repository.ts';
import { clientService, type NewClient } from '../../src/issuer/clients/client-service.ts';
import { apiRepository } from '../../src/issuer/apis/api-repository.ts';
import { apiService } from '../../src/issuer/apis/api-service.ts';
import { roleRepository } from '../../src/issuer/roles/role-repository.ts';
import { roleService, type RoleService } from '../../src/issuer/roles/role-service.ts';
import { registerTaskApi, TASK_WORKER_ROLE } from '../../src/demo/demo-setup.ts';
import { buildIssuerApp, type IssuerApp } from '../../src/issuer/issuer-app.ts';
import { issuerService } from '../../src/issuer/issuer-service.ts';
import type { PrismaClient } from '../../src/shared/database/generated/issuer/client.ts';
import { startService, type RunningService } from '../../src/shared/lifecycle/service.ts';
import { TEST_KEY_ENCRYPTION_KEY, temporaryDirectory, testConfig } from './environment.ts';
import { freePort } from './processes.ts';
import { startSmtpPeer, type SmtpPeer } from './smtp-peer.ts';
import { UserAgent } from './user-agent.ts';

export const TEST_PASSWORD = 'correct horse battery staple';

export interface TestUser {
  id: string;
  email: string;
  /** The TOTP secret, when enrolled. */
  totpSecret?: string;
  recoveryCodes?: string[];
}

/** The current code for a TOTP secret, as an authenticator app shows it. */
export const totpCode = (secret: string) => generate({ secret });

export interface IssuerHarness {
  url: string;
  taskApi: string;
  service: RunningService<PrismaClient>;
  issuer: IssuerApp;
  /** A client; a service client holds the `roles` given (by default the task API's worker role). */
  createClient(
    input: Omit<NewClient, 'name'> & { name?: string; roles?: string[] },
  ): Promise<{ id: string; secret: string | undefined }>;
  /**
   * A user with TEST_PASSWORD holding `roles` (or the one `role`; by default the default roles); with
   * `totp`, enrolled in TOTP (its secret returned for making codes).
   */
  createUser(options?: { role?: string; roles?: string[]; email?: string; totp?: boolean }): Promise<TestUser>;
  /** Roles and their permissions, as `latchkey role` manages them. */
  roles: RoleService;
  /** What the issuer printed for an operator at start (the first-administrator link). */
  announcements: string[];
  secondFactor: ReturnType<typeof secondFactor>;
  discover(clientId: string, secret?: string): Promise<client.Configuration>;
  /** Runs the browser part of Authorization Code + PKCE and returns the URL the issuer redirected to. */
  authorize(
    config: client.Configuration,
    user: TestUser,
    parameters: Record<string, string> & { redirect_uri: string },
  ): Promise<{ callbackUrl: URL; verifier: string; state: string; agent: UserAgent }>;
  stop(): Promise<void>;
}

export const APP_REDIRECT_URI = 'http://127.0.0.1:5173/callback';
const FIXED_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

/** An issuer with one first-party browser app registered, ready for sign-in tests. */
export async function startIssuerWithApp(
  overrides: Record<string, string> = {},
  options: HarnessOptions = {},
): Promise<{ issuer: IssuerHarness; config: client.Configuration; appId: string }> {
  const issuer = await startIssuer(overrides, options);
  const app = await issuer.createClient({ type: 'spa', redirectUris: [APP_REDIRECT_URI], firstParty: true });
  return { issuer, config: await issuer.discover(app.id), appId: app.id };
}

/**
 * The issuer-with-a-browser-app fixture, sending its mail to a real SMTP peer on loopback (the
 * fixture of every suite that reads the mail: links, codes, notices). `stop` ends both.
 */
export async function startIssuerWithMail(
  overrides: Record<string, string> = {},
  options: HarnessOptions = {},
): Promise<{ issuer: IssuerHarness; config: client.Configuration; smtp: SmtpPeer; stop: () => Promise<void> }> {
  const smtp = await startSmtpPeer();
  try {
    const { issuer, config } = await startIssuerWithApp({ SMTP_URL: smtp.url, ...overrides }, options);
    return { issuer, config, smtp, stop: async () => (await issuer.stop(), await smtp.close()) };
  } catch (error) {
    await smtp.close();
    throw error;
  }
}

/**
 * Opens a fresh sign-in (prompt=login, so even a browser with a session sees the form) and returns
 * the page's response and where its login form posts.
 */
export async function openSignIn(issuer: IssuerHarness, config: client.Configuration, agent = new UserAgent()) {
  const { response, url } = await agent.follow(
    client.buildAuthorizationUrl(config, {
      redirect_uri: APP_REDIRECT_URI,
      scope: 'openid tasks:read',
      code_challenge: FIXED_CHALLENGE,
      code_challenge_method: 'S256',
      prompt: 'login',
    }),
    issuer.url,
  );
  return { agent, response, interaction: url.pathname, action: `${url.href}/login` };
}

/**
 * An attacker's wrong passwords from one browser until the account is locked: a parallel burst,
 * then one at a time, waiting out each "try again shortly" (how many a burst gets checked depends on
 * timing; the lock does not).
 */
export async function guessUntilLocked(
  issuer: IssuerHarness,
  config: client.Configuration,
  email: string,
  agent = new UserAgent(),
): Promise<void> {
  const { response, action } = await openSignIn(issuer, config, agent);
  await response.body?.cancel();
  const guess = async (i: number) => {
    const result = await agent.submitForm(
      action,
      { csrf: agent.formToken(), email, password: `wrong guess number ${i}` },
      issuer.url,
    );
    await result.response.body?.cancel();
    return result.response;
  };
  const user = await userRepository(issuer.service.database.client).findByEmail(email);
  const locked = async () =>
    (await issuer.issuer.events.list({ userId: user?.id, limit: 50 })).some((event) => event.type === 'account.locked');
  await Promise.all(Array.from({ length: 6 }, (_, i) => guess(i)));
  for (let i = 6; i < 30 && !(await locked()); i += 1) {
    const answer = await guess(i);
    if (answer.status === 429)
      await new Promise((resolve) => setTimeout(resolve, Number(answer.headers.get('retry-after') ?? 1) * 1000 + 50));
  }
  if (!(await locked())) throw new Error(`${email} was not locked`);
}

let counter = 0;
const unique = () => `${process.pid}-${Date.now().toString(36)}-${(counter += 1)}`;

export interface HarnessOptions {
  /** Where the issuer's log goes (a capture, for tests that read it); LOG_LEVEL=info with it. */
  logDestination?: Writable;
  /** The issuer's host name: `localhost` for passkeys (WebAuthn refuses an IP address as relying party). */
  host?: '127.0.0.1' | 'localhost';
  /** Webhook retry waits (short, so a test sees retries). */
  webhookRetryDelaysMs?: number[];
}

export async function startIssuer(
  overrides: Record<string, string> = {},
  options: HarnessOptions = {},
): Promise<IssuerHarness> {
  const dir = await temporaryDirectory();
  const port = await freePort();
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  const taskApi = overrides.TASK_API_URL ?? 'http://127.0.0.1:4999';
  const config = testConfig(dir.path, {
    ISSUER_URL: url,
    ISSUER_PORT: String(port),
    TASK_API_URL: taskApi,
    LOG_LEVEL: options.logDestination ? 'info' : 'warn',
    ...overrides,
  });
  let issuer!: IssuerApp;
  const announcements: string[] = [];
  const service = await startService(
    {
      ...issuerService,
      buildApp: async (dependencies) => {
        issuer = await buildIssuerApp(dependencies, {
          announce: (line) => announcements.push(line),
          ...(options.webhookRetryDelaysMs ? { webhookRetryDelaysMs: options.webhookRetryDelaysMs } : {}),
        });
        return issuer;
      },
    },
    config,
    { logDestination: options.logDestination },
  );
  const db = service.database.client;
  const apis = apiService(apiRepository(db));
  const roles = roleService(roleRepository(db), apis);
  // The test suites' API: the task API's identifier, scopes and roles, registered as the demo does.
  await registerTaskApi(apis, roles, taskApi);
  const clients = clientService(clientRepository(db), apis);
  const users = userRepository(db);
  const passwords = passwordHasher();
  const kek = Buffer.from(TEST_KEY_ENCRYPTION_KEY, 'hex');
  const factors = secondFactor({ users, sealer: sealer(kek), recoveryCodeKey: subkey(kek, RECOVERY_CODE_KEY_PURPOSE) });

  return {
    url,
    taskApi,
    service,
    issuer,
    roles,
    announcements,
    async createClient({ roles: held, ...input }) {
      // Unless a test says otherwise: the task API, with the scopes the demo's clients of that type have.
      const scopes =
        input.type === 'service'
          ? ['tasks:work']
          : ['openid', 'email', 'profile', 'offline_access', 'tasks:read', 'tasks:write'];
      const defaults = { name: `test client ${unique()}`, resources: [taskApi], scopes };
      const { client: created, secret } = await clients.create({ ...defaults, ...input });
      const clientRoles = held ?? (input.type === 'service' ? [TASK_WORKER_ROLE] : []);
      if (clientRoles.length) await roles.assign({ clientId: created.id }, clientRoles);
      return { id: created.id, secret };
    },
    secondFactor: factors,
    async createUser(options = {}) {
      const email = options.email ?? `user-${unique()}@example.com`;
      const user = await users.create({
        email,
        passwordHash: await passwords.hash(TEST_PASSWORD),
        ...(options.roles ? { roles: options.roles } : options.role ? { roles: [options.role] } : {}),
        emailVerified: true,
      });
      if (!options.totp) return { id: user.id, email: user.email };
      const { secret } = await factors.beginEnrollment(user.id, user.email);
      const recoveryCodes = await factors.confirmEnrollment(user.id, await totpCode(secret));
      // Enrollment used this time step's code; sign-ins in the same 30 s must not collide with it.
      await db.user.update({ where: { id: user.id }, data: { totpLastStep: null } });
      return { id: user.id, email: user.email, totpSecret: secret, recoveryCodes: recoveryCodes! };
    },
    async discover(clientId, secret) {
      const config = await client.discovery(
        new URL(url),
        clientId,
        undefined,
        secret ? client.ClientSecretBasic(secret) : client.None(),
        { execute: [client.allowInsecureRequests] },
      );
      return config;
    },
    authorize: (config, user, parameters) => authorizeInBrowser(url, config, user, parameters),
    async stop() {
      await service.stop();
      await dir.remove();
    },
  };
}

/**
 * Runs the browser part of Authorization Code + PKCE at the issuer at `url` (password, then a TOTP
 * code when the user has one) and returns where the issuer redirected.
 */
export async function authorizeInBrowser(
  url: string,
  config: client.Configuration,
  user: TestUser,
  parameters: Record<string, string> & { redirect_uri: string },
): Promise<{ callbackUrl: URL; verifier: string; state: string; agent: UserAgent }> {
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
    const interaction = at.pathname;
    ({ response, url: at } = await agent.submitForm(
      new URL(`${interaction}/login`, url),
      { csrf: agent.formToken(), email: user.email, password: TEST_PASSWORD },
      url,
    ));
    if (user.totpSecret && at.pathname === `${interaction}/login`) {
      await response.body?.cancel();
      ({ response, url: at } = await agent.submitForm(
        new URL(`${interaction}/second-factor`, url),
        { csrf: agent.formToken(), code: await totpCode(user.totpSecret) },
        url,
      ));
    }
  }
  await response.body?.cancel();
  if (at.origin !== redirectOrigin)
    throw new Error(`authorization did not reach the client (stopped at ${at.href} with ${response.status})`);
  return { callbackUrl: at, verifier, state, agent };
}
