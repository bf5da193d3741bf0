import type Koa from 'koa';
import { findActiveAccount } from '../accounts/accounts.ts';
import { lockRepository } from '../accounts/lock-repository.ts';
import { createMailer, type Mailer } from '../accounts/mail/mailer.ts';
import { MAIL_QUEUE_KEY_PURPOSE, mailQueue } from '../accounts/mail/mail-queue.ts';
import { sealer, subkey } from '../shared/crypto/sealing.ts';
import { issuerMetrics, providerRouteOf, type IssuerMetrics } from './issuer-metrics.ts';
import { feedingWebhooks, startWebhooks } from './webhooks/webhook-setup.ts';
import type { WebhookSender } from './webhooks/webhook-sender.ts';
import type { Webhooks } from './webhooks/webhooks.ts';
import { profiles } from '../accounts/profile.ts';
import { securityEvents, type SecurityEvents } from '../accounts/security-events.ts';
import { userRepository, type UserRepository } from '../accounts/user-repository.ts';
import type { PrismaClient } from '../shared/database/generated/issuer/client.ts';
import { createBaseApp } from '../shared/http/base-app.ts';
import type { RequestState } from '../shared/http/request-context.ts';
import type { BuiltApp, ServiceDependencies } from '../shared/lifecycle/service.ts';
import { accountAccess } from './account/account-access.ts';
import { accountConsoleClient, ACCOUNT_CONSOLE_CLIENT_ID } from './account/account-console-client.ts';
import { accountRoutes, type AccountDependencies } from './account/account-routes.ts';
import { AccountPages } from './account/account-pages.ts';
import type { FormGuard } from './interactions/form-guard.ts';
import { consoleRoutes } from './console/console-routes.ts';
import { consoleOverview } from './console/console-overview.ts';
import { adminOperations } from './console/admin-operations.ts';
import type { AdminServices } from './admin/admin-services.ts';
import { selfServiceRoutes } from './account/self-service-routes.ts';
import { cachedClientSource } from './clients/client-cache.ts';
import { clientRepository } from './clients/client-repository.ts';
import { clientService } from './clients/client-service.ts';
import { ensureDemoClients } from '../demo/demo-setup.ts';
import { canonicalHost, issuerHosts } from './http/canonical-host.ts';
import { documentsAhead } from './http/documents-ahead.ts';
import { errorPages } from './http/error-pages.ts';
import { pageAssets } from './pages/page-assets.ts';
import { deviceCookies } from './interactions/device-cookie.ts';
import { formGuard } from './interactions/form-guard.ts';
import { interactionRoutes } from './interactions/interaction-routes.ts';
import { InteractionPages } from './interactions/interaction-pages.ts';
import { resolveKeyEncryptionKey } from './keys/key-encryption-key.ts';
import { configuredKeyRing } from './keys/key-ring.ts';
import { adapterFactory, grantRevoker } from './oidc/adapter.ts';
import { apiTokenUserinfo, ownKeySet } from './oidc/api-token-userinfo.ts';
import { accountServices, type AccountServices } from './account-services.ts';
import {
  ADMIN_SCOPES,
  adminApi,
  adminCliClient,
  adminPolicy,
  adminResource,
  adminRoutes,
  registerAdminApi,
} from './admin/admin-api.ts';
import { localOperator, type LocalOperator } from './admin/local-operator.ts';
import { offerFirstAdministrator, setupRoutes } from './admin/first-administrator.ts';
import { apiRepository } from './apis/api-repository.ts';
import { apiService, type ApiService } from './apis/api-service.ts';
import { roleRepository, type RoleRepository } from './roles/role-repository.ts';
import { roleService, type RoleService } from './roles/role-service.ts';
import { ttlLookup } from '../shared/cache/ttl-lookup.ts';
import { browserContext } from './oidc/browser-context.ts';
import { deviceFlowPages, devicePollThrottle, userCodeGuessLimit } from './oidc/device-flow.ts';
import { oidcRecordRepository, type OidcRecordRepository } from './oidc/oidc-record-repository.ts';
import { providerGate } from './oidc/provider-gate.ts';
import { ProviderHost } from './oidc/provider-host.ts';
import { refreshGrace, type RefreshGrace } from './oidc/refresh-grace.ts';
import { pageRenderer, type PageRenderer } from './pages/page-renderer.ts';
import { apiKeys, type ApiKeys } from './api-keys/api-keys.ts';
import { federatedSignIn, type FederatedSignIn } from '../accounts/federation/federated-sign-in.ts';
import { upstreamClient, type UpstreamClient } from './federation/upstream-client.ts';
import { upstreamProviders, type UpstreamProviders } from './federation/upstream-providers.ts';
import { FEDERATION_CALLBACK_PATH, federationRoutes, linkOnSignIn } from './interactions/federation-routes.ts';
import { serverSecret } from './keys/server-secret.ts';
import { jwtVerify } from 'jose';
import { GRANT_TYPES } from '../shared/protocol.ts';

export interface IssuerApp extends BuiltApp {
  app: Koa<RequestState>;
  host: ProviderHost;
  mailer: Mailer;
  events: SecurityEvents;
  webhooks: { webhooks: Webhooks; sender: WebhookSender };
  apiKeys: ApiKeys;
}

type Dependencies = ServiceDependencies<PrismaClient>;

/** What the builders below share: the process's dependencies and the issuer's stores. */
interface Parts extends Dependencies {
  users: UserRepository;
  records: OidcRecordRepository;
  events: SecurityEvents;
  mailer: Mailer;
  pages: PageRenderer;
  keyEncryptionKey: Buffer;
  revokeGrant: (grantId: string) => Promise<void>;
  /** Shared by the adapter's hooks and the token step: one record of rotations per process. */
  grace: RefreshGrace;
  apis: ApiService;
  roles: RoleService;
  /** The role tables, one per process: every token reads its subject's grants through them. */
  roleRecords: RoleRepository;
  services: AccountServices;
  localOperator: LocalOperator;
  observed: IssuerMetrics;
  webhooks: Webhooks;
  apiKeys: ApiKeys;
  federation: { providers: UpstreamProviders; upstream: UpstreamClient; federated: FederatedSignIn };
}

/**
 * The issuer's composition root: the stores, then the OpenID provider (adapter, refresh grace,
 * provider host), then the HTTP app (edge, our pages, the provider gate). Shutdown, after HTTP has
 * drained: mail still in hand goes out, then nothing the issuer started fires again.
 */
export interface IssuerOptions {
  /** Where the one-time first-administrator link is printed (standard output unless a test listens). */
  announce?: (line: string) => void;
  /** Webhook retry waits (tests shorten them). */
  webhookRetryDelaysMs?: number[];
}

export async function buildIssuerApp(dependencies: Dependencies, options: IssuerOptions = {}): Promise<IssuerApp> {
  const { config, log, database, cache } = dependencies;
  const db = database.client;
  const records = oidcRecordRepository(db, database.pool);
  const observed = issuerMetrics(dependencies.metrics, { clientIdLabel: config.metrics.clientIdLabel });
  const keyEncryptionKey = await resolveKeyEncryptionKey(config.issuer.keyEncryptionKey, config.dataDir, log);
  const logged = observed.countEvents(securityEvents(db, log));
  const outbound = startWebhooks({
    ...{ db, keyEncryptionKey, config, log },
    onOutcome: observed.webhookOutcome,
    record: (event) => logged.record(event),
    ...(options.webhookRetryDelaysMs ? { retryDelaysMs: options.webhookRetryDelaysMs } : {}),
  });
  const events = feedingWebhooks(logged, outbound.webhooks, log);
  const revokeGrant = grantRevoker({ records, cache });
  const apis = apiService(apiRepository(db));
  const roleRecords = roleRepository(db, database.pool);
  const parts: Parts = {
    ...dependencies,
    users: userRepository(db, database.pool),
    records,
    events,
    mailer: createMailer(config.mail, log, {
      queue: mailQueue(db, sealer(subkey(keyEncryptionKey, MAIL_QUEUE_KEY_PURPOSE))),
      onOutcome: observed.mailOutcome,
    }),
    pages: pageRenderer(),
    keyEncryptionKey,
    revokeGrant,
    grace: refreshGraceOf({ ...dependencies, events }, revokeGrant, observed),
    apis,
    roles: roleService(roleRecords, apis),
    roleRecords,
    services: undefined as unknown as AccountServices,
    localOperator: localOperator(config.dataDir),
    observed,
    webhooks: outbound.webhooks,
    apiKeys: undefined as unknown as ApiKeys,
    federation: undefined as unknown as Parts['federation'],
  };
  parts.services = accountServices(parts);
  parts.apiKeys = apiKeysOf(parts);
  parts.federation = federationOf(parts);
  // Said once at start, since a wrong relying party is the commonest reason passkeys fail behind a proxy.
  log.info({ rpId: config.issuer.webauthn.rpId, origins: config.issuer.webauthn.origins }, 'passkeys relying party');
  await parts.localOperator.issue();
  const host = await startProvider(parts);
  await offerFirstAdministrator({
    db,
    cache,
    accounts: parts.services.accounts,
    issuerUrl: config.issuer.url,
    bootstrap: config.issuer.bootstrapAdmin,
    log,
    announce: options.announce ?? ((line) => process.stdout.write(line)),
  });
  const app = buildHttp(parts, host);
  // Durable records expire in place; sweep them hourly (a day late, so a just-expired token still reads as expired, not unknown).
  const locks = lockRepository(db);
  const sweeper = setInterval(() => {
    Promise.all([
      records.deleteExpired(new Date(Date.now() - 86_400_000)),
      locks.deleteExpired(new Date()),
      outbound.webhooks.sweep(),
      parts.apiKeys.sendExpiryNotices(),
    ]).catch((error: unknown) =>
      log.warn(
        { errMessage: (error as Error).message },
        'could not sweep expired grants, tokens, locks and webhook deliveries',
      ),
    );
  }, 3_600_000);
  sweeper.unref();
  const close = [
    { name: 'mail', close: () => parts.mailer.drain(config.http.shutdownTimeoutMs) },
    { name: 'webhooks', close: () => outbound.sender.stop() },
    { name: 'provider host', close: () => host.stop() },
    { name: 'record sweeper', close: async () => clearInterval(sweeper) },
  ];
  return { app, close, host, mailer: parts.mailer, events, webhooks: outbound, apiKeys: parts.apiKeys };
}

/** oidc-provider with our storage, clients, accounts and pages, kept current with the signing keys. */
async function startProvider(parts: Parts): Promise<ProviderHost> {
  const { config, log, database, cache, users, records, pages, revokeGrant, grace } = parts;
  const { apis, roles } = parts;
  const clients = clientService(clientRepository(database.client), apis);
  await registerAdminApi(apis, roles, config.issuer.url);
  if (config.demoClients) {
    const demo = { spaUrl: config.spa.url, dataDir: config.dataDir, taskApiUrl: config.taskApi.url };
    await ensureDemoClients({ clients, apis, roles }, demo, log);
  }
  const findApi = ttlLookup(async (identifier) => {
    const api = await apis.find(identifier);
    return api ? { ...api, scopes: api.scopes.map((scope) => scope.name) } : undefined;
  }, config.issuer.clientCacheTtlSeconds);
  const adapter = adapterFactory({
    records,
    cache,
    clients: cachedClientSource(clients, config.issuer.clientCacheTtlSeconds),
    revokeGrant,
    onRefreshTokenSaved: grace.recordIfRotation,
    judgeConsumedRefreshToken: grace.judgeConsumed,
  });
  const keyRing = configuredKeyRing(database.client, config, parts.keyEncryptionKey);
  parts.observed.watchKeys(keyRing, config.issuer.keys.rotationIntervalDays);
  // The exchange verifies our own tokens with the keys the host publishes, known once it has started.
  const started: { host?: ProviderHost } = {};
  const host = await ProviderHost.start({
    keyRing,
    log,
    observe: parts.observed.observeProvider,
    reloadIntervalSeconds: config.issuer.keys.reloadIntervalSeconds,
    rotationIntervalDays: config.issuer.keys.rotationIntervalDays,
    publishLeadSeconds: config.issuer.keys.publishLeadSeconds,
    revokeGrant,
    dependencies: {
      adapter,
      findAccount: (id) => findActiveAccount(users, id),
      findApi,
      grantsOf: (subject) => parts.roleRecords.grantsOf(subject),
      deviceFlowPages: deviceFlowPages(
        userCodeGuessLimit(cache),
        pages,
        async (id) => (await users.findById(id))?.email,
      ),
      pages,
      staticClients: [accountConsoleClient(config.issuer.url), adminCliClient(config.issuer.url)],
      async serviceKey(presented, clientId, ip) {
        const check = await parts.apiKeys.authenticate(presented, ip, 'service');
        return check.ok && 'clientId' in check.owner && check.owner.clientId === clientId
          ? check.permissions
          : undefined;
      },
      tokenExchange: tokenExchangeOf(parts, () => started.host?.publicKeys() ?? []),
      settings: {
        issuerUrl: config.issuer.url,
        ttl: config.issuer.ttl,
        devicePollIntervalSeconds: config.issuer.devicePollIntervalSeconds,
      },
    },
  });
  started.host = host;
  return host;
}

/** Sign-in through other identity providers: their registry, the relying-party client, the accounts' rules. */
function federationOf(parts: Parts): Parts['federation'] {
  const db = parts.database.client;
  return {
    providers: upstreamProviders(db, sealer(parts.keyEncryptionKey)),
    upstream: upstreamClient(`${parts.config.issuer.url}${FEDERATION_CALLBACK_PATH}`),
    federated: federatedSignIn({
      db,
      users: parts.users,
      core: parts.services.core,
      profiles: profiles({ users: parts.users, events: parts.events }),
      roles: parts.roles,
      events: parts.events,
    }),
  };
}

/** Personal and service keys, hashed under a sealed server secret, judged against their owner's roles now. */
function apiKeysOf(parts: Parts): ApiKeys {
  const db = parts.database.client;
  const clients = clientRepository(db);
  return apiKeys({
    db,
    hashKey: serverSecret(db, sealer(parts.keyEncryptionKey), 'api_key_hash'),
    apis: async () =>
      (await parts.apis.list()).map((api) => ({ ...api, scopes: api.scopes.map((scope) => scope.name) })),
    grantsOf: (owner) => parts.roleRecords.grantsOf(owner),
    async clientScopes(clientId) {
      const client = await clients.find(clientId);
      return client?.type === 'service' ? { resources: client.resources, scopes: client.scopes } : undefined;
    },
    mailer: parts.mailer,
    events: parts.events,
    issuerUrl: parts.config.issuer.url,
  });
}

/**
 * The token-exchange grant's view of the issuer: personal keys, our own access tokens (verified with
 * the keys the provider publishes, never a DPoP-bound one, which its holder alone may use), accounts.
 */
function tokenExchangeOf(parts: Parts, publicKeys: () => ReturnType<ProviderHost['publicKeys']>) {
  const db = parts.database.client;
  const keys = ownKeySet(publicKeys);
  // An answer either way is cached (the lookup forgets only misses): discovery reads it, not the database.
  const anyClientExchanges = ttlLookup(
    async () => ({ any: (await db.client.count({ where: { grantTypes: { has: GRANT_TYPES.tokenExchange } } })) > 0 }),
    parts.config.issuer.clientCacheTtlSeconds,
  );
  return {
    personalKey: (presented: string, ip: string) => parts.apiKeys.authenticate(presented, ip, 'personal'),
    async verifyAccessToken(token: string) {
      try {
        const { payload } = await jwtVerify(token, keys(), {
          issuer: parts.config.issuer.url,
          typ: 'at+jwt',
          algorithms: ['ES256', 'RS256'],
          requiredClaims: ['sub', 'exp', 'client_id', 'aud'],
        });
        return payload.cnf ? undefined : payload;
      } catch {
        return undefined;
      }
    },
    accountActive: async (id: string) => (await findActiveAccount(parts.users, id)) !== undefined,
    anyClientExchanges: async () => (await anyClientExchanges('any'))?.any === true,
    record: (event: Parameters<SecurityEvents['record']>[0]) => parts.events.record(event),
  };
}

/** Refresh-token rotation's grace window; its reuse detections go to the security log. */
function refreshGraceOf(
  { cache, config, events }: Dependencies & { events: SecurityEvents },
  revokeGrant: Parts['revokeGrant'],
  observed: IssuerMetrics,
) {
  return refreshGrace({
    cache,
    graceSeconds: config.issuer.refreshReuseGraceSeconds,
    revokeGrant,
    onGraceReplay: observed.graceReplayed,
    onReuseDetected: (payload, presentedBy) => {
      void events.record({
        type: 'refresh_token.reuse_detected',
        userId: typeof payload.accountId === 'string' ? payload.accountId : undefined,
        actor: 'system',
        detail: { clientId: String(payload.clientId), presentedBy: presentedBy ?? null },
      });
    },
  });
}

/** The HTTP app, in request order: the edge, our own pages, then the gate to the provider. */
function buildHttp(parts: Parts, host: ProviderHost): Koa<RequestState> {
  const { config, log, database, cache, isAcceptingTraffic, mailer, pages, users } = parts;
  // Mail is not a readiness gate (sign-in works without it), but a failing SMTP server shows in /readyz.
  const details = { mail: () => mailer.state() };
  const isIssuerHost = issuerHosts(config.issuer.url, config.taskApi.issuerInternalUrl);
  const app = createBaseApp({
    ...{ config, log, database, cache, isAcceptingTraffic, details },
    metrics: parts.metrics,
    routeOf: providerRouteOf,
    ahead: [documentsAhead(host.published, isIssuerHost, log)],
  });
  app.use(errorPages(pages));
  app.use(canonicalHost(config.issuer.url, isIssuerHost, pages));
  app.use(host.published.build);
  app.use(browserContext());
  for (const router of [...pageRouters(parts, host), adminRouterOf(parts, host)])
    app.use(router.routes() as unknown as Koa.Middleware<RequestState>);
  const userinfo = apiTokenUserinfo({
    issuerUrl: config.issuer.url,
    publicKeys: () => host.publicKeys(),
    findAccount: (id) => findActiveAccount(users, id),
  });
  const { lockout: limits, devicePollIntervalSeconds } = config.issuer;
  app.use(
    providerGate({
      host,
      pages,
      cache,
      userCodeGuesses: userCodeGuessLimit(cache),
      apiTokenUserinfo: userinfo,
      clientAuthFailures: { max: limits.ipMaxFailures, windowSeconds: limits.windowSeconds },
      tokenSteps: [
        async (request) => (await parts.grace.applyToTokenRequest(request), false),
        devicePollThrottle({ cache, intervalSeconds: devicePollIntervalSeconds }),
      ],
      onUserCodeGuessRefused: parts.observed.deviceGuessRefused,
    }),
  );
  return app;
}

/** The admin API, on the same services as the pages and the CLI; its tokens verified with our own keys. */
function adminRouterOf(parts: Parts, host: ProviderHost) {
  const keys = ownKeySet(() => host.publicKeys());
  return adminApi({
    issuerUrl: parts.config.issuer.url,
    keys: (header, token) => keys()(header, token),
    cache: parts.cache,
    localOperator: parts.localOperator,
    services: adminServicesOf(parts),
  });
}

/** What the admin API, the CLI (through it) and the console act through: the same services. */
function adminServicesOf(parts: Parts): AdminServices {
  const { config, database, cache, users, records, events, revokeGrant, apis, roles, services } = parts;
  return {
    db: database.client,
    cache,
    users,
    accounts: services.accounts,
    profiles: profiles({ users, events }),
    lockout: services.lockout,
    reset: services.reset,
    access: accountAccess({ cache, records, revokeGrant, hiddenClients: [ACCOUNT_CONSOLE_CLIENT_ID] }),
    clients: clientService(clientRepository(database.client), apis),
    apis,
    roles,
    keys: configuredKeyRing(database.client, config, parts.keyEncryptionKey),
    publishLeadSeconds: config.issuer.keys.publishLeadSeconds,
    events,
    passkeys: services.passkeys,
    webhooks: parts.webhooks,
    apiKeys: parts.apiKeys,
    upstreams: parts.federation.providers,
    issuerUrl: config.issuer.url,
  };
}

/**
 * The admin console (/admin): the admin API's operations under its own policy, for a person signed
 * in to the issuer whose roles hold the admin API's scopes.
 */
function consoleRouterOf(parts: Parts, account: AccountPages, forms: FormGuard) {
  const { config, database, apis } = parts;
  const adminApiIdentifier = adminResource(config.issuer.url).audience;
  return consoleRoutes({
    account,
    operations: adminOperations(adminRoutes(adminServicesOf(parts)), adminPolicy(adminResource(config.issuer.url))),
    pages: parts.pages,
    forms,
    issuerUrl: config.issuer.url,
    async adminScopesOf(userId) {
      const [api, grants] = await Promise.all([apis.find(adminApiIdentifier), parts.roleRecords.grantsOf({ userId })]);
      const held = api ? grants.scopesByApi.get(api.id) : undefined;
      return new Set([...(held ?? [])].filter((scope) => Object.values(ADMIN_SCOPES).includes(scope as never)));
    },
    overview: consoleOverview({
      db: database.client,
      mailState: () => parts.mailer.state(),
      rotationIntervalDays: config.issuer.keys.rotationIntervalDays,
      tokensByGrant: parts.observed.accessTokensByGrant,
    }),
  });
}

/** The routers of the sign-in, self-service and account pages, on the accounts domain. */
function pageRouters(parts: Parts, host: ProviderHost) {
  const { config, cache, users, records, events, mailer, pages, keyEncryptionKey: kek, revokeGrant } = parts;
  const provider = () => host.provider;
  const issuerUrl = config.issuer.url;
  const { passwords, policy, factors, password, secondFactor, magicLink, passkey, passkeyOffer, reset, signUp } =
    parts.services;
  const forms = formGuard(kek, issuerUrl);
  const { passwordResetTtlSeconds, signUpEnabled, recentSignInSeconds } = config.issuer;
  const devices = deviceCookies(kek, issuerUrl.startsWith('https://'));
  const { providers, upstream, federated } = parts.federation;
  // The sign-in page's buttons, read at most every few seconds rather than at every page.
  const buttons = ttlLookup(
    async () => (await providers.enabled()).map(({ slug, buttonLabel }) => ({ slug, buttonLabel })),
    config.issuer.clientCacheTtlSeconds,
  );
  // An identity from another provider waiting for its account's owner is linked when they sign in.
  const onSignedIn = linkOnSignIn({ cache, providers, users, federated });
  const steps = new InteractionPages({
    ...{ provider, devices, forms, pages, signUpEnabled, passkeyOffer, onSignedIn },
    accountEmail: async (id) => (await users.findById(id))?.email,
    secondFactorMethods: (signInId) => secondFactor.methods(signInId),
  });
  const accountDependencies: AccountDependencies = {
    ...{
      provider,
      users,
      passwords,
      password,
      policy,
      secondFactor: factors,
      events,
      mailer,
      forms,
      pages,
      issuerUrl,
    },
    access: accountAccess({ cache, records, revokeGrant, hiddenClients: [ACCOUNT_CONSOLE_CLIENT_ID] }),
    profiles: profiles({ users, events }),
    recentSignInSeconds,
    passkeys: parts.services.passkeys,
    apiKeys: parts.apiKeys,
    federation: { providers, upstream, federated, cache, log: parts.log },
    async linkedProviders(userId: string) {
      const [identities, enabled] = await Promise.all([federated.identitiesOf(userId), providers.list()]);
      return {
        linked: identities.map((identity) => ({
          id: identity.id,
          providerName: identity.provider.name,
          email: identity.email,
          linkedAt: identity.createdAt,
        })),
        available: enabled
          .filter((row) => row.enabled && !identities.some((identity) => identity.providerId === row.id))
          .map(({ slug, name }) => ({ slug, name })),
      };
    },
  };
  return [
    pageAssets(),
    interactionRoutes({
      ...{ provider, password, secondFactor, magicLink, passkey, devices, forms, pages, issuerUrl, signUpEnabled },
      apis: parts.apis,
      passkeyOffer,
      onSignedIn,
      accountEmail: async (id) => (await users.findById(id))?.email,
      secondFactorMethods: (signInId) => secondFactor.methods(signInId),
      upstreams: async () => (await buttons('all')) ?? [],
    }),
    federationRoutes({
      steps,
      providers,
      upstream,
      federated,
      password,
      users,
      cache,
      issuerUrl,
      log: parts.log,
    }),
    selfServiceRoutes({
      ...{ reset, signUp, policy, forms, pages, signUpEnabled, provider },
      resetTtlSeconds: passwordResetTtlSeconds,
    }),
    setupRoutes({ db: parts.database.client, cache, accounts: parts.services.accounts, policy, forms, pages }),
    accountRoutes(accountDependencies),
    consoleRouterOf(parts, new AccountPages(accountDependencies), forms),
  ];
}
