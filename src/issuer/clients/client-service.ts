import { randomBytes } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';
import type { ClientType } from '../../shared/database/generated/issuer/client.ts';
import type { ClientRepository, ClientRow } from './client-repository.ts';
import { generateClientSecret, hashClientSecret } from './client-secrets.ts';
import { GRANT_TYPES, OIDC_SCOPES } from '../../shared/protocol.ts';
import { CLIENT_TYPES, DEFAULT_SCOPES, EXCHANGEABLE_TOKEN_TYPES } from './client-types.ts';

export class ClientValidationError extends Error {}

export interface NewClient {
  /** A chosen client id (the demo clients have fixed ones); random when absent. */
  id?: string;
  name: string;
  type: ClientType;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  /** The type's grants by default; its optional ones (refresh_token; client_credentials for web) may be chosen. */
  grantTypes?: string[];
  scopes?: string[];
  firstParty?: boolean;
  /** False lets a confidential client use the authorization endpoint without PKCE; public clients always need it. */
  pkceRequired?: boolean;
  /** private_key_jwt for services: their public keys instead of a secret. */
  jwks?: { keys: object[] };
  /** Shown on the consent page: the client's logo, home page, privacy policy, terms of service. */
  logoUri?: string | null;
  clientUri?: string | null;
  policyUri?: string | null;
  tosUri?: string | null;
  /** This client's access-token lifetime in seconds (60 to 86400); null: the deployment's default. */
  accessTokenTtlSeconds?: number | null;
  /** The registered APIs (identifiers) it may get tokens for; its API scopes must be theirs. */
  resources?: string[];
  /** One of `resources`: what a request without a `resource` parameter gets a token for. */
  defaultResource?: string | null;
  /** Subject token types it may exchange (RFC 8693); needs the token-exchange grant. */
  tokenExchangeSubjectTypes?: string[];
}

/** What the client registry needs of the API registry. */
export interface ApiScopesSource {
  find(identifier: string): Promise<{ scopes: Array<{ name: string }> } | null>;
}

/** What `client update` may change: everything but the id, the type and the credentials (a null clears a link). */
export type ClientChanges = Partial<Omit<NewClient, 'id' | 'type' | 'jwks'>>;

const PAGE_LINKS = ['logoUri', 'clientUri', 'policyUri', 'tosUri'] as const;

/** Redirect URIs are compared exactly by oidc-provider; here we refuse what can never be safe. */
function validateRedirectUri(uri: string, type: ClientType): void {
  if (!URL.canParse(uri)) throw new ClientValidationError(`redirect URI ${uri} is not a URL`);
  const url = new URL(uri);
  if (uri.includes('*')) throw new ClientValidationError('redirect URIs cannot contain wildcards');
  if (url.hash) throw new ClientValidationError('redirect URIs cannot have a fragment');
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'http:' && !loopback)
    throw new ClientValidationError(`redirect URI ${uri} must use https (http only on loopback)`);
  if (!['http:', 'https:'].includes(url.protocol) && type !== 'cli')
    throw new ClientValidationError(`redirect URI ${uri} must be http(s)`);
}

/**
 * 128 random bits in base64url, never starting with "-" or "_": an id that begins with "-" reads as
 * an option on a command line (`latchkey client delete -R…` failed), and a leading "_" looks odd.
 */
function newClientId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}

/** A link shown to people (logo, home page, policy, terms): https, or http on loopback for development. */
function validatePageLink(field: string, uri: string): void {
  if (!URL.canParse(uri)) throw new ClientValidationError(`${field} ${uri} is not a URL`);
  const url = new URL(uri);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback)))
    throw new ClientValidationError(`${field} ${uri} must use https`);
}

/** The rules every client obeys, checked at creation and again after every change. */
function validateClient(type: ClientType, client: Required<ClientChanges> & { jwks?: unknown }): void {
  const kind = CLIENT_TYPES[type];
  if (kind.needsRedirect && client.redirectUris.length === 0)
    throw new ClientValidationError(`a ${type} client needs at least one --redirect-uri`);
  if (!kind.needsRedirect && client.redirectUris.length > 0)
    throw new ClientValidationError(`a ${type} client does not use redirect URIs`);
  for (const uri of [...client.redirectUris, ...client.postLogoutRedirectUris]) validateRedirectUri(uri, type);
  if (!client.pkceRequired && !(kind.confidential && kind.needsRedirect))
    throw new ClientValidationError('only a confidential web client may be registered without PKCE');
  if (client.jwks && type !== 'service')
    throw new ClientValidationError('only service clients authenticate with private_key_jwt');
  if (type === 'service' && client.scopes.some((scope) => OIDC_SCOPE_NAMES.has(scope)))
    throw new ClientValidationError(
      'a service client acts for itself: it cannot have user scopes such as openid or offline_access',
    );
  if (!client.name.trim()) throw new ClientValidationError('a client needs a name');
  const required = kind.grantTypes.filter((grant) => !kind.optionalGrantTypes.includes(grant));
  const missing = required.filter((grant) => !client.grantTypes.includes(grant));
  if (missing.length) throw new ClientValidationError(`a ${type} client always has the ${missing.join(', ')} grant`);
  const foreign = client.grantTypes.filter(
    (grant) => !kind.grantTypes.includes(grant) && !kind.optionalGrantTypes.includes(grant),
  );
  if (foreign.length)
    throw new ClientValidationError(
      `a ${type} client cannot have the ${foreign.join(', ')} grant (it may have: ${[...new Set([...kind.grantTypes, ...kind.optionalGrantTypes])].join(', ')})`,
    );
  for (const field of PAGE_LINKS) if (client[field]) validatePageLink(field, client[field]);
  if (client.defaultResource !== null && !client.resources.includes(client.defaultResource))
    throw new ClientValidationError(`the default API ${client.defaultResource} is not one of the client's APIs`);
  checkTokenExchange(type, client);
  const ttl = client.accessTokenTtlSeconds;
  if (ttl !== null && !(Number.isInteger(ttl) && ttl >= 60 && ttl <= 86_400))
    throw new ClientValidationError('an access-token lifetime is a whole number of seconds from 60 to 86400');
}

/** The token-exchange grant and its subject token types come together, and each type suits the client. */
function checkTokenExchange(type: ClientType, client: Required<ClientChanges>): void {
  const types = client.tokenExchangeSubjectTypes;
  const hasGrant = client.grantTypes.includes(GRANT_TYPES.tokenExchange);
  if (hasGrant && types.length === 0)
    throw new ClientValidationError('the token-exchange grant needs at least one subject token type');
  if (!hasGrant && types.length > 0)
    throw new ClientValidationError('subject token types need the token-exchange grant');
  for (const tokenType of types) {
    const rule = EXCHANGEABLE_TOKEN_TYPES[tokenType];
    if (!rule)
      throw new ClientValidationError(
        `subject token type ${tokenType} is not one of: ${Object.keys(EXCHANGEABLE_TOKEN_TYPES).join(', ')}`,
      );
    if (rule.confidentialOnly && !CLIENT_TYPES[type].confidential)
      throw new ClientValidationError(`only a confidential client may exchange ${tokenType} (delegation)`);
  }
}

/** A client's changeable fields, as stored. */
function editable(row: ClientRow): Required<ClientChanges> {
  return {
    name: row.name,
    redirectUris: row.redirectUris,
    postLogoutRedirectUris: row.postLogoutRedirectUris,
    grantTypes: row.grantTypes,
    scopes: row.scopes,
    firstParty: row.firstParty,
    pkceRequired: row.pkceRequired,
    logoUri: row.logoUri,
    clientUri: row.clientUri,
    policyUri: row.policyUri,
    tosUri: row.tosUri,
    accessTokenTtlSeconds: row.accessTokenTtlSeconds,
    resources: row.resources,
    defaultResource: row.defaultResource,
    tokenExchangeSubjectTypes: row.tokenExchangeSubjectTypes,
  };
}

/**
 * Each API a client names is registered, and each scope that is not OpenID's belongs to one of
 * them: a client never points at an API or a scope that does not exist.
 */
async function checkApis(apis: ApiScopesSource, resources: string[], scopes: string[]): Promise<Set<string>> {
  const apiScopes = new Set<string>();
  for (const identifier of resources) {
    const api = await apis.find(identifier);
    if (!api) throw new ClientValidationError(`no API ${identifier} is registered (latchkey api create)`);
    for (const scope of api.scopes) apiScopes.add(scope.name);
  }
  const unknown = scopes.filter((scope) => !OIDC_SCOPE_NAMES.has(scope) && !apiScopes.has(scope));
  if (unknown.length)
    throw new ClientValidationError(`scope ${unknown.join(' ')} belongs to none of the client's APIs (--resource)`);
  return apiScopes;
}

export function clientService(repository: ClientRepository, apis: ApiScopesSource) {
  return {
    /** Creates a client; the secret, when there is one, is returned here and never again. */
    async create(input: NewClient): Promise<{ client: ClientRow; secret: string | undefined }> {
      const kind = CLIENT_TYPES[input.type];
      const fields = {
        name: input.name,
        redirectUris: input.redirectUris ?? [],
        postLogoutRedirectUris: input.postLogoutRedirectUris ?? [],
        scopes: input.scopes ?? [],
        grantTypes: [...new Set(input.grantTypes ?? kind.grantTypes)],
        firstParty: input.firstParty ?? false,
        pkceRequired: input.pkceRequired ?? true,
        logoUri: input.logoUri ?? null,
        clientUri: input.clientUri ?? null,
        policyUri: input.policyUri ?? null,
        tosUri: input.tosUri ?? null,
        accessTokenTtlSeconds: input.accessTokenTtlSeconds ?? null,
        defaultResource: input.defaultResource ?? null,
        tokenExchangeSubjectTypes: [...new Set(input.tokenExchangeSubjectTypes ?? [])],
      };
      const resources = [...new Set(input.resources ?? [])];
      const apiScopes = await checkApis(apis, resources, fields.scopes);
      // No scope given: the type's OpenID defaults and every scope of its APIs.
      if (!input.scopes?.length) fields.scopes = [...DEFAULT_SCOPES[input.type], ...apiScopes];
      validateClient(input.type, { ...fields, resources, jwks: input.jwks });
      if (input.id !== undefined && !/^[A-Za-z0-9._-]{3,64}$/.test(input.id))
        throw new ClientValidationError('a client id has 3-64 letters, digits, ".", "_" or "-"');
      const secret = kind.confidential && !input.jwks ? generateClientSecret() : undefined;
      const client = await repository.create({
        id: input.id ?? newClientId(),
        type: input.type,
        ...fields,
        resources,
        tokenEndpointAuthMethod: input.jwks ? 'private_key_jwt' : kind.authMethod,
        secretHash: secret ? hashClientSecret(secret) : null,
        ...(input.jwks ? { jwks: input.jwks } : {}),
      });
      return { client, secret };
    },

    /**
     * Changes a client; the result must obey the same rules as a new one, or nothing changes.
     * undefined when there is no such client. Instances see the change within CLIENT_CACHE_TTL_SECONDS.
     */
    async update(id: string, changes: ClientChanges): Promise<ClientRow | undefined> {
      const client = await repository.find(id);
      if (!client) return undefined;
      const given = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
      const next = { ...editable(client), ...given } as Required<ClientChanges>;
      validateClient(client.type, { ...next, jwks: client.jwks ?? undefined });
      await checkApis(apis, next.resources, next.scopes);
      return repository.update(id, next);
    },

    async rotateSecret(id: string): Promise<string | undefined> {
      const client = await repository.find(id);
      if (!client?.secretHash) return undefined;
      const secret = generateClientSecret();
      await repository.updateSecretHash(id, hashClientSecret(secret));
      return secret;
    },

    find: (id: string) => repository.find(id),
    list: () => repository.list(),
    delete: (id: string) => repository.delete(id),

    /** The client as oidc-provider sees it. `client_secret` carries the hash; compareClientSecret knows. */
    async findMetadata(id: string): Promise<AdapterPayload | undefined> {
      const client = await repository.find(id);
      return client ? toProviderMetadata(client) : undefined;
    },
  };
}

/** The OpenID scopes the provider knows; a client's other scopes are its APIs'. */
const OIDC_SCOPE_NAMES = new Set<string>(OIDC_SCOPES);

export function toProviderMetadata(client: ClientRow): AdapterPayload {
  const kind = CLIENT_TYPES[client.type];
  return {
    client_id: client.id,
    client_name: client.name,
    application_type: kind.applicationType,
    grant_types: client.grantTypes,
    response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod as AdapterPayload['token_endpoint_auth_method'],
    // oidc-provider checks `scope` against OpenID scopes; resource scopes are enforced per resource server.
    ...(client.scopes.some((scope) => OIDC_SCOPE_NAMES.has(scope))
      ? { scope: client.scopes.filter((scope) => OIDC_SCOPE_NAMES.has(scope)).join(' ') }
      : {}),
    ...(client.logoUri ? { logo_uri: client.logoUri } : {}),
    ...(client.clientUri ? { client_uri: client.clientUri } : {}),
    ...(client.policyUri ? { policy_uri: client.policyUri } : {}),
    ...(client.tosUri ? { tos_uri: client.tosUri } : {}),
    ...(client.accessTokenTtlSeconds ? { access_token_ttl: client.accessTokenTtlSeconds } : {}),
    ...(client.defaultResource ? { default_resource: client.defaultResource } : {}),
    resource_scopes: client.scopes.filter((scope) => !OIDC_SCOPE_NAMES.has(scope)),
    ...(client.secretHash ? { client_secret: client.secretHash } : {}),
    ...(client.jwks ? { jwks: client.jwks as unknown as AdapterPayload['jwks'] } : {}),
    allowed_resources: client.resources,
    token_exchange_subject_types: client.tokenExchangeSubjectTypes,
    first_party: client.firstParty,
    client_type: client.type,
    pkce_required: client.pkceRequired,
  };
}

export type ClientService = ReturnType<typeof clientService>;
