import type Koa from 'koa';
import { findActiveAccount } from '../accounts/accounts.ts';
import { deviceCookies } from './interactions/device-cookie.ts';
import { lockRepository } from '../accounts/lock-repository.ts';
import { lockout } from '../accounts/lockout.ts';
import { mailTokens, sendBudget } from '../accounts/mail-tokens.ts';
import { createMailer, type Mailer } from '../accounts/mail/mailer.ts';
import { passwordHasher } from '../accounts/passwords.ts';
import { passwordPolicy } from '../accounts/password-policy.ts';
import { accountCreation } from '../accounts/account-creation.ts';
import { passwordReset } from '../accounts/password-reset.ts';
import { signUp } from '../accounts/sign-up.ts';
import { signInCore } from '../accounts/sign-in/sign-in.ts';
import { passwordSignIn } from '../accounts/sign-in/password-sign-in.ts';
import { secondFactorStep } from '../accounts/sign-in/second-factor-step.ts';
import { magicLinkSignIn } from '../accounts/sign-in/magic-link.ts';
import { RECOVERY_CODE_KEY_PURPOSE, secondFactor } from '../accounts/second-factor.ts';
import { securityEvents, type SecurityEvents } from '../accounts/security-events.ts';
import { userRepository } from '../accounts/user-repository.ts';
import type { PrismaClient } from '../shared/database/generated/issuer/client.ts';
import { createBaseApp } from '../shared/http/base-app.ts';
import type { RequestState } from '../shared/http/request-context.ts';
import type { BuiltApp, ServiceDependencies } from '../shared/lifecycle/service.ts';
import type { CloseStep } from '../shared/lifecycle/shutdown.ts';
import { accountAccess } from './account/account-access.ts';
import { accountConsoleClient, ACCOUNT_CONSOLE_CLIENT_ID } from './account/account-console-client.ts';
import { accountRoutes } from './account/account-routes.ts';
import { selfServiceRoutes } from './account/self-service-routes.ts';
import { clientRepository } from './clients/client-repository.ts';
import { cachedClientSource } from './clients/client-cache.ts';
import { clientService } from './clients/client-service.ts';
import { ensureDemoClients } from './clients/demo-clients.ts';
import { formGuard } from './interactions/form-guard.ts';
import { interactionRoutes } from './interactions/interaction-routes.ts';
import { resolveKeyEncryptionKey } from './keys/key-encryption-key.ts';
import { sealer, subkey } from '../shared/crypto/sealing.ts';
import { configuredKeyRing } from './keys/key-ring.ts';
import { accountRevoker, grantRevoker, adapterFactory } from './oidc/adapter.ts';
import { browserContext } from './oidc/browser-context.ts';
import { canonicalHost } from './http/canonical-host.ts';
import { errorPages } from './http/error-pages.ts';
import { deviceFlowPages, userCodeGuard } from './oidc/device-flow.ts';
import { oidcRecordRepository } from './oidc/oidc-record-repository.ts';
import { apiTokenUserinfo } from './oidc/api-token-userinfo.ts';
import { providerGateway } from './oidc/provider-gateway.ts';
import { ProviderHost } from './oidc/provider-host.ts';
import { tokenRequestPolicy } from './oidc/token-request-policy.ts';
import { pageRenderer } from './pages/page-renderer.ts';

export interface IssuerApp extends BuiltApp {
  app: Koa<RequestState>;
  host: ProviderHost;
  mailer: Mailer;
  events: SecurityEvents;
}

/** The issuer's composition root: builds every part from the process's dependencies and wires them. */
export async function buildIssuerApp(dependencies: ServiceDependencies<PrismaClient>): Promise<IssuerApp> {
  const { config, log, database, cache, isAcceptingTraffic } = dependencies;
  const db = database.client;
  const users = userRepository(db);
  const clients = clientService(clientRepository(db), { taskApi: config.taskApi.url });
  const records = oidcRecordRepository(db);
  const locks = lockRepository(db);
  if (config.demoClients) await ensureDemoClients(clients, { spaUrl: config.spa.url, dataDir: config.dataDir }, log);
  const kek = await resolveKeyEncryptionKey(config.issuer.keyEncryptionKey, config.dataDir, log);
  const keys = configuredKeyRing(db, config, kek);
  const events = securityEvents(db, log);
  const mailer = createMailer(config.mail, log);
  const ttl = config.issuer.ttl;

  const revokeGrant = grantRevoker({ records, cache });
  const tokenPolicy = tokenRequestPolicy({
    cache,
    graceSeconds: config.issuer.refreshReuseGraceSeconds,
    devicePollIntervalSeconds: config.issuer.devicePollIntervalSeconds,
    revokeGrant,
    onReuseDetected: (payload, presentedBy) => {
      void events.record({
        type: 'refresh_token.reuse_detected',
        userId: typeof payload.accountId === 'string' ? payload.accountId : undefined,
        actor: 'system',
        detail: { clientId: String(payload.clientId), presentedBy: presentedBy ?? null },
      });
    },
  });
  const adapter = adapterFactory({
    records,
    cache,
    clients: cachedClientSource(clients, config.issuer.clientCacheTtlSeconds),
    revokeGrant,
    onRefreshTokenRotated: tokenPolicy.recordRotation,
    judgeConsumedRefreshToken: tokenPolicy.judgeConsumedRefreshToken,
  });

  const guard = userCodeGuard(cache);
  const pages = pageRenderer();
  const host = await ProviderHost.start({
    keyRing: keys,
    log,
    reloadIntervalSeconds: config.issuer.keys.reloadIntervalSeconds,
    rotationIntervalDays: config.issuer.keys.rotationIntervalDays,
    revokeGrant,
    dependencies: {
      adapter,
      findAccount: (id) => findActiveAccount(users, id),
      deviceFlowPages: deviceFlowPages(guard, pages),
      pages,
      staticClients: [accountConsoleClient(config.issuer.url)],
      settings: {
        issuerUrl: config.issuer.url,
        taskApiUrl: config.taskApi.url,
        ttl,
        devicePollIntervalSeconds: config.issuer.devicePollIntervalSeconds,
      },
    },
  });

  // Durable records expire in place; sweep them hourly (a day late, so a just-expired token still reads as expired, not unknown).
  const sweeper = setInterval(() => {
    Promise.all([records.deleteExpired(new Date(Date.now() - 86_400_000)), locks.deleteExpired(new Date())]).catch(
      (error: unknown) =>
        log.warn({ errMessage: (error as Error).message }, 'could not sweep expired grants, tokens and locks'),
    );
  }, 3_600_000);
  sweeper.unref();

  // Mail is not a readiness gate (sign-in works without it), but a failing SMTP server shows in /readyz.
  const app = createBaseApp({
    config,
    log,
    database,
    cache,
    isAcceptingTraffic,
    details: { mail: () => mailer.state() },
  });
  app.use(errorPages(pages));
  app.use(canonicalHost(config.issuer.url, pages, config.taskApi.issuerInternalUrl));
  app.use(browserContext());
  const provider = () => host.provider;
  const issuerUrl = config.issuer.url;
  const passwords = passwordHasher(config.issuer.passwords);
  const policy = passwordPolicy(config.issuer.passwords);
  const failures = lockout(cache, locks, config.issuer.lockout);
  const secondFactors = secondFactor({
    users,
    sealer: sealer(kek),
    recoveryCodeKey: subkey(kek, RECOVERY_CODE_KEY_PURPOSE),
  });
  const forms = formGuard(kek, issuerUrl);
  const tokens = mailTokens(cache);
  const budget = sendBudget(cache, { perAddress: 5, perIp: 30, windowSeconds: 900 });
  const accounts = accountCreation({ users, passwords, policy, events });
  const core = signInCore({ cache, lockout: failures, events, mailer, issuerUrl });
  const password = passwordSignIn({ users, passwords, lockout: failures, secondFactor: secondFactors, core });
  const routers = [
    interactionRoutes({
      provider,
      password,
      secondFactor: secondFactorStep({ users, secondFactor: secondFactors, events, core }),
      magicLink: magicLinkSignIn({
        users,
        tokens,
        budget,
        mailer,
        events,
        cache,
        core,
        ttlSeconds: config.issuer.magicLinkTtlSeconds,
      }),
      devices: deviceCookies(kek, issuerUrl.startsWith('https://')),
      forms,
      pages,
      issuerUrl,
      signUpEnabled: config.issuer.signUpEnabled,
    }),
    selfServiceRoutes({
      reset: passwordReset({
        users,
        passwords,
        policy,
        lockout: failures,
        tokens,
        budget,
        mailer,
        events,
        signOutEverywhere: accountRevoker({ records, cache }),
        issuerUrl,
        ttlSeconds: config.issuer.passwordResetTtlSeconds,
      }),
      signUp: signUp({ users, accounts, tokens, budget, mailer, events, issuerUrl }),
      policy,
      forms,
      pages,
      signUpEnabled: config.issuer.signUpEnabled,
      resetTtlSeconds: config.issuer.passwordResetTtlSeconds,
    }),
    accountRoutes({
      provider,
      users,
      passwords,
      password,
      policy,
      secondFactor: secondFactors,
      events,
      mailer,
      guard: forms,
      pages,
      issuerUrl,
      access: accountAccess({ cache, records, revokeGrant, hiddenClients: [ACCOUNT_CONSOLE_CLIENT_ID] }),
      recentSignInSeconds: config.issuer.recentSignInSeconds,
    }),
  ];
  for (const router of routers) app.use(router.routes() as unknown as Koa.Middleware<RequestState>);

  // The provider's own endpoints; any other path stays ours (and unknown ones get our 404 envelope).
  const userinfoForApiTokens = apiTokenUserinfo({
    issuerUrl: config.issuer.url,
    publicKeys: () => host.publicKeys(),
    findAccount: (id) => findActiveAccount(users, id),
  });
  app.use(
    providerGateway({
      host,
      tokenPolicy,
      guard,
      pages,
      cache,
      apiTokenUserinfo: userinfoForApiTokens,
      clientAuthFailures: {
        max: config.issuer.lockout.ipMaxFailures,
        windowSeconds: config.issuer.lockout.windowSeconds,
      },
    }),
  );
  // After HTTP has drained: mail still in hand goes out, then nothing the issuer started fires again.
  const close: CloseStep[] = [
    { name: 'mail', close: () => mailer.drain(config.http.shutdownTimeoutMs) },
    { name: 'provider host', close: () => host.stop() },
    { name: 'record sweeper', close: async () => clearInterval(sweeper) },
  ];
  return { app, close, host, mailer, events };
}
