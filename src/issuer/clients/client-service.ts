import { randomBytes } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';
import type { ClientType } from '../../shared/database/generated/issuer/client.ts';
import type { ClientRepository, ClientRow } from './client-repository.ts';
import { generateClientSecret, hashClientSecret } from './client-secrets.ts';
import { OIDC_SCOPES } from '../../shared/protocol.ts';
import { CLIENT_TYPES, DEFAULT_SCOPES } from './client-types.ts';

export class ClientValidationError extends Error {}

export interface NewClient {
  /** A chosen client id (the demo clients have fixed ones); random when absent. */
  id?: string;
  name: string;
  type: ClientType;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  scopes?: string[];
  firstParty?: boolean;
  /** False lets a confidential client use the authorization endpoint without PKCE; public clients always need it. */
  pkceRequired?: boolean;
  /** private_key_jwt for services: their public keys instead of a secret. */
  jwks?: { keys: object[] };
}

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

export function clientService(repository: ClientRepository, resources: { taskApi: string }) {
  return {
    /** Creates a client; the secret, when there is one, is returned here and never again. */
    async create(input: NewClient): Promise<{ client: ClientRow; secret: string | undefined }> {
      const kind = CLIENT_TYPES[input.type];
      const redirectUris = input.redirectUris ?? [];
      if (kind.needsRedirect && redirectUris.length === 0)
        throw new ClientValidationError(`a ${input.type} client needs at least one --redirect-uri`);
      if (!kind.needsRedirect && redirectUris.length > 0)
        throw new ClientValidationError(`a ${input.type} client does not use redirect URIs`);
      for (const uri of [...redirectUris, ...(input.postLogoutRedirectUris ?? [])])
        validateRedirectUri(uri, input.type);
      if (input.pkceRequired === false && !(kind.confidential && kind.needsRedirect))
        throw new ClientValidationError('only a confidential web client may be registered without PKCE');
      if (input.jwks && input.type !== 'service')
        throw new ClientValidationError('only service clients authenticate with private_key_jwt');
      const scopes = input.scopes?.length ? input.scopes : DEFAULT_SCOPES[input.type];
      if (input.type === 'service' && scopes.some((scope) => OIDC_SCOPE_NAMES.has(scope))) {
        throw new ClientValidationError(
          'a service client acts for itself: it cannot have user scopes such as openid or offline_access',
        );
      }
      if (input.id !== undefined && !/^[A-Za-z0-9._-]{3,64}$/.test(input.id))
        throw new ClientValidationError('a client id has 3-64 letters, digits, ".", "_" or "-"');
      const secret = kind.confidential && !input.jwks ? generateClientSecret() : undefined;
      const client = await repository.create({
        id: input.id ?? randomBytes(16).toString('base64url'),
        name: input.name,
        type: input.type,
        redirectUris,
        postLogoutRedirectUris: input.postLogoutRedirectUris ?? [],
        grantTypes: kind.grantTypes,
        scopes,
        resources: [resources.taskApi],
        firstParty: input.firstParty ?? false,
        pkceRequired: input.pkceRequired ?? true,
        tokenEndpointAuthMethod: input.jwks ? 'private_key_jwt' : kind.authMethod,
        secretHash: secret ? hashClientSecret(secret) : null,
        ...(input.jwks ? { jwks: input.jwks } : {}),
      });
      return { client, secret };
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
    resource_scopes: client.scopes.filter((scope) => !OIDC_SCOPE_NAMES.has(scope)),
    ...(client.secretHash ? { client_secret: client.secretHash } : {}),
    ...(client.jwks ? { jwks: client.jwks as unknown as AdapterPayload['jwks'] } : {}),
    allowed_resources: client.resources,
    first_party: client.firstParty,
    client_type: client.type,
    pkce_required: client.pkceRequired,
  };
}

export type ClientService = ReturnType<typeof clientService>;
