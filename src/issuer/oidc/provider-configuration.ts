import { PROVIDER_COOKIES } from './session-index.ts';
import { OIDC_SCOPES } from '../../shared/protocol.ts';
import type { ClientMetadata, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Account } from '../../accounts/accounts.ts';
import type { KeySet } from '../keys/key-ring.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import { addUserinfoAudience, SCOPE_CLAIMS } from './api-token-userinfo.ts';
import { firstPartyGrant } from './first-party-grant.ts';
import { latchkeyInteractionPolicy } from './interaction-policy.ts';
import { orUnavailable } from './outage-errors.ts';
import {
  clientAccessTokenTtl,
  resourceServers,
  roleGrantsPerRequest,
  type ApiInfo,
  type RoleGrants,
  type TokenSubject,
} from './resource-servers.ts';
import { shouldRotateRefreshToken } from './refresh-grace.ts';
import type { ServiceKeyCheck } from '../clients/hashed-secret.ts';
import { exchangedActClaim, type TokenExchangeDependencies } from './token-exchange.ts';

export interface ProviderSettings {
  issuerUrl: string;
  ttl: { accessToken: number; idToken: number; refreshIdle: number; refreshAbsolute: number; session: number };
  devicePollIntervalSeconds: number;
}

export interface ProviderDependencies {
  adapter: NonNullable<Configuration['adapter']>;
  findAccount: (id: string) => Promise<Account | undefined>;
  /** The registered APIs, by identifier (RFC 8707 resource indicators). */
  findApi: (identifier: string) => Promise<ApiInfo | undefined>;
  /** A person's or a service's roles and what they grant (read afresh for each token). */
  grantsOf: (subject: TokenSubject) => Promise<RoleGrants>;
  keys: KeySet;
  settings: ProviderSettings;
  /** Pages the issuer renders for the device flow (from the accounts UI, or plain defaults). */
  deviceFlowPages?: Pick<
    NonNullable<NonNullable<Configuration['features']>['deviceFlow']>,
    'userCodeInputSource' | 'userCodeConfirmSource' | 'successSource'
  >;
  /** Renders the provider's own pages (logout, errors) from views/. */
  pages: PageRenderer;
  /** Clients defined in code rather than the database: the account pages. */
  staticClients?: ClientMetadata[];
  /**
   * A service key (`lk_svc_`) presented as its client's secret: the permissions it may use now, or
   * undefined when it is not a valid key of that client.
   */
  serviceKey?: ServiceKeyCheck;
  /** The token-exchange grant (RFC 8693); absent, the provider has no such grant. */
  tokenExchange?: TokenExchangeDependencies;
}

interface ClientExtras {
  first_party?: boolean;
  allowed_resources?: string[];
  redirectUris?: string[];
}

const clientExtras = (ctx: KoaContextWithOIDC) => ctx.oidc.client as unknown as ClientExtras | undefined;
const clientSettings = (client: unknown) => client as { pkce_required?: boolean };
const now = () => Math.floor(Date.now() / 1000);

/**
 * Where oidc-provider serves each endpoint (its defaults, spelled out): the provider gate hands
 * exactly these paths, and the paths under them, to the provider; every other path stays ours.
 */
export const PROVIDER_ROUTES = {
  authorization: '/auth',
  code_verification: '/device',
  device_authorization: '/device/auth',
  end_session: '/session/end',
  introspection: '/token/introspection',
  jwks: '/jwks',
  pushed_authorization_request: '/request',
  revocation: '/token/revocation',
  token: '/token',
  userinfo: '/me',
} as const;

/** Discovery documents, which oidc-provider serves outside its `routes`. */
export const DISCOVERY_PATHS = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];

/** What `acr` says about a sign-in: the first factor, or `mfa` when a second factor was used too. */
export const ACR_VALUES = ['urn:latchkey:pwd', 'urn:latchkey:email', 'urn:latchkey:fed', 'urn:latchkey:mfa'] as const;

/**
 * Everything Latchkey decides about the protocol, in one place. Departures from oidc-provider's
 * defaults, and why:
 * - `code` is the only response type (no implicit, no hybrid); PKCE (S256 only) for every client.
 * - access tokens for a registered API are JWTs (RFC 9068) carrying the subject's roles from our
 *   database, and only the scopes its roles grant (for a role-limited API); a client asking for no
 *   resource gets its default API.
 * - refresh tokens rotate on every use, with a short grace window for a replayed predecessor
 *   (see refresh-grace.ts); an idle and an absolute lifetime bound them.
 * - first-party clients skip consent: their grant is made from the request.
 * - symmetric algorithms are off: client secrets are stored hashed and cannot be HMAC keys.
 */
export function providerConfiguration({
  adapter,
  findAccount,
  keys,
  settings,
  deviceFlowPages,
  pages,
  findApi,
  grantsOf,
  staticClients = [],
}: ProviderDependencies): Configuration {
  const roleGrants = roleGrantsPerRequest((subject) => orUnavailable(() => grantsOf(subject)));
  const secure = settings.issuerUrl.startsWith('https://');
  const cookie = { httpOnly: true, sameSite: 'lax' as const, secure, signed: true };

  return {
    adapter,
    clients: staticClients,
    async findAccount(_ctx, id) {
      return (await orUnavailable(() => findAccount(id))) as (Account & Record<string, unknown>) | undefined;
    },
    jwks: keys.jwks,
    cookies: { keys: keys.cookieKeys, long: cookie, short: cookie, names: { ...PROVIDER_COOKIES } },
    ...protocolChoices(),
    features: features(settings, pages, deviceFlowPages, findApi, roleGrants),
    extraTokenClaims: (ctx, token) => accessTokenClaims(ctx, token, findAccount, roleGrants),
    formats: {
      customizers: {
        // RFC 9068 wants a `sub` even without a user; oidc-provider uses the bare client_id. Namespacing it
        // ("client:<id>", never a user's UUID) means no resource server can mistake a service for a person.
        jwt(ctx, token, jwt) {
          if (!('accountId' in token) || !token.accountId) jwt.payload.sub = `client:${String(jwt.payload.client_id)}`;
          else addUserinfoAudience(ctx, jwt.payload, `${settings.issuerUrl}/me`);
        },
      },
    },
    ttl: lifetimes(settings),
    rotateRefreshToken: shouldRotateRefreshToken,
    // Tokens are not tied to the browser session (kept in Redis): losing Redis must not sign people out
    // of their apps. Logout still revokes the grants of the clients in the session.
    expiresWithSession: () => false,
    // Refresh tokens for clients allowed the grant that asked for offline_access, and for our own
    // first-party apps, which should not need prompt=consent (OIDC's price for offline_access) to stay signed in.
    async issueRefreshToken(ctx, client, code) {
      if (!client.grantTypeAllowed('refresh_token')) return false;
      return code.scopes.has('offline_access') || clientExtras(ctx)?.first_party === true;
    },
    loadExistingGrant: firstPartyGrant,
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: latchkeyInteractionPolicy(),
    },
    clientBasedCORS(_ctx, origin, client) {
      // A browser app may call the token, userinfo and revocation endpoints from the origins it redirects to.
      return client.redirectUris?.some((uri) => URL.canParse(uri) && new URL(uri).origin === origin) ?? false;
    },
    async renderError(ctx, out) {
      const paragraphs = [String(out.error_description ?? out.error), 'Go back to the application and try again.'];
      pages.render(ctx, 'message', { title: 'Something went wrong', paragraphs }, ctx.status >= 400 ? ctx.status : 400);
    },
  };
}

/**
 * The APIs as the token-exchange grant sees them: the same rules (the client's APIs and scopes, the
 * subject's roles, lifetimes) as the provider's resource indicators, from the same dependencies.
 */
export function exchangeResourceServers({
  findApi,
  grantsOf,
  settings,
}: Pick<ProviderDependencies, 'findApi' | 'grantsOf' | 'settings'>) {
  const roleGrants = roleGrantsPerRequest((subject) => orUnavailable(() => grantsOf(subject)));
  return resourceServers(
    (identifier) => orUnavailable(() => findApi(identifier)),
    roleGrants,
    settings.ttl.accessToken,
  );
}

/** What Latchkey chooses among the protocol's options: claims, scopes, response types, PKCE, algorithms. */
function protocolChoices(): Partial<Configuration> {
  return {
    // How and when the person signed in (acr, amr, auth_time) travels in every ID token (OIDC Core 2):
    // listed under `openid`, since oidc-provider masks ID-token claims by scope.
    claims: {
      acr: null,
      auth_time: null,
      sid: null,
      iss: null,
      ...SCOPE_CLAIMS,
      openid: [...SCOPE_CLAIMS.openid!, 'acr', 'amr', 'auth_time'],
    },
    acrValues: [...ACR_VALUES],
    // OpenID Connect requires redirect_uri on every authorization request, even with one registered.
    allowOmittingSingleRegisteredRedirectUri: false,
    scopes: [...OIDC_SCOPES],
    // `none` only for the account pages (they need the session, never a token); clients get `code`.
    responseTypes: ['code', 'none'],
    // PKCE for every client, unless an operator registered a confidential client without it.
    pkce: {
      required: (_ctx, client) => client.clientAuthMethod === 'none' || clientSettings(client).pkce_required !== false,
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'ES256'],
      clientAuthSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      requestObjectSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      dPoPSigningAlgValues: ['ES256', 'EdDSA', 'RS256', 'PS256'],
    },
    routes: PROVIDER_ROUTES,
    extraClientMetadata: {
      properties: [
        'allowed_resources',
        'resource_scopes',
        'first_party',
        'client_type',
        'pkce_required',
        'access_token_ttl',
        'default_resource',
        'token_exchange_subject_types',
      ],
    },
  };
}

function features(
  settings: ProviderSettings,
  pages: PageRenderer,
  deviceFlowPages: ProviderDependencies['deviceFlowPages'],
  findApi: ProviderDependencies['findApi'],
  roleGrants: ReturnType<typeof roleGrantsPerRequest>,
): NonNullable<Configuration['features']> {
  // An outage while reading the API is a 503 temporarily_unavailable, as for the adapter and accounts.
  const resources = resourceServers(
    (identifier) => orUnavailable(() => findApi(identifier)),
    roleGrants,
    settings.ttl.accessToken,
  );
  return {
    devInteractions: { enabled: false },
    // A client may ask for profile claims in the ID token by name (OIDC Core 5.5); it gets those its
    // registered scopes release (see requestableClaims), after consent for a third-party client.
    claimsParameter: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // A confidential client may introspect the tokens issued to it, and no others (RFC 7662 §2.1,
      // §4): another client's token is answered `active: false`. A public client learns nothing.
      allowedPolicy: (_ctx, client, token) => client.clientAuthMethod !== 'none' && token.clientId === client.clientId,
    },
    // A client revokes only tokens issued to it.
    revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
    userinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // An application's sign-out that carries a valid ID token of the signed-in account (oidc-provider
      // has checked its signature and audience) is confirmed at once, as Keycloak does; anything else
      // (no hint, or another account's) asks first, so a link alone cannot sign anyone out.
      logoutSource: (ctx, form) => {
        const hint = ctx.oidc.entities.IdTokenHint as { payload?: { sub?: unknown } } | undefined;
        const automatic = hint?.payload?.sub !== undefined && hint.payload.sub === ctx.oidc.session?.accountId;
        const clientName = ctx.oidc.client?.clientName;
        pages.render(ctx, 'logout', {
          title: automatic ? 'Signing out' : 'Sign out?',
          form,
          automatic,
          clientName,
          ...(automatic ? { script: 'submit-sign-out' } : {}),
        });
      },
      postLogoutSuccessSource: (ctx) =>
        pages.render(ctx, 'message', {
          title: 'Signed out',
          paragraphs: ['You are signed out of Latchkey in this browser.'],
        }),
    },
    dPoP: { enabled: true },
    deviceFlow: {
      enabled: true,
      charset: 'base-20',
      mask: '****-****',
      ...deviceFlowPages,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: resources.defaultResource,
      getResourceServerInfo: resources.getResourceServerInfo,
      useGrantedResource: () => true,
    },
  };
}

/**
 * The subject's role names (RFC 9068 §2.2.3.1) in every access token; for a person, also how and
 * when they signed in.
 */
async function accessTokenClaims(
  ctx: KoaContextWithOIDC,
  token: Parameters<NonNullable<Configuration['extraTokenClaims']>>[1],
  findAccount: ProviderDependencies['findAccount'],
  roleGrants: ReturnType<typeof roleGrantsPerRequest>,
) {
  if (token.kind === 'ClientCredentials' && token.clientId)
    return { roles: (await roleGrants(ctx, { clientId: token.clientId })).roles };
  if (token.kind !== 'AccessToken' || !('accountId' in token) || typeof token.accountId !== 'string') return undefined;
  const account = (ctx.oidc.entities.Account as Account | undefined) ?? (await findAccount(token.accountId));
  const { AuthorizationCode, RefreshToken, DeviceCode } = ctx.oidc.entities as Record<
    string,
    { authTime?: number; acr?: string; amr?: string[] } | undefined
  >;
  const origin = AuthorizationCode ?? RefreshToken ?? DeviceCode;
  return {
    roles: account?.roles ?? [],
    ...verifiedEmailClaim(ctx, account),
    ...(origin?.authTime ? { auth_time: origin.authTime } : {}),
    ...(origin?.acr ? { acr: origin.acr } : {}),
    ...(origin?.amr ? { amr: origin.amr } : {}),
    ...exchangedActClaim(ctx),
  };
}

/**
 * The person's address in their access tokens, as Keycloak puts it there, when they granted the
 * `email` scope and the address is verified: an API can then know its users by address (the task
 * API assigns tasks by email) without calling the issuer. An unverified address is left out.
 */
function verifiedEmailClaim(ctx: KoaContextWithOIDC, account: Account | undefined): { email?: string } {
  const grant = ctx.oidc.entities.Grant as { getOIDCScope(): string } | undefined;
  if (!account || !grant?.getOIDCScope().split(' ').includes('email')) return {};
  const { email, email_verified: verified } = account.claims();
  return verified ? { email } : {};
}

function lifetimes(settings: ProviderSettings): NonNullable<Configuration['ttl']> {
  return {
    // A client's own lifetime when it has one; JWTs for an API get theirs in resource-servers.ts.
    AccessToken: (_ctx, _token, client) => clientAccessTokenTtl(client) ?? settings.ttl.accessToken,
    AuthorizationCode: 60,
    ClientCredentials: (_ctx, _token, client) => clientAccessTokenTtl(client) ?? settings.ttl.accessToken,
    DeviceCode: 600,
    Grant: settings.ttl.refreshAbsolute,
    IdToken: settings.ttl.idToken,
    Interaction: 3_600,
    Session: settings.ttl.session,
    // Idle lifetime, never past the absolute lifetime counted from the grant's first refresh token.
    RefreshToken: (_ctx, token) => {
      const initial = (token as unknown as { iiat?: number }).iiat ?? now();
      const absoluteLeft = initial + settings.ttl.refreshAbsolute - now();
      return Math.max(1, Math.min(settings.ttl.refreshIdle, absoluteLeft));
    },
  };
}
