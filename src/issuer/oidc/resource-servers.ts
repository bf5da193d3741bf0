import { requestedScopes } from './first-party-grant.ts';
import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';

interface ClientExtras {
  allowed_resources?: string[];
  resource_scopes?: string[];
  access_token_ttl?: number;
  default_resource?: string;
}

/** A client's own access-token lifetime, when it has one (`latchkey client update --access-token-ttl`). */
export const clientAccessTokenTtl = (client: unknown): number | undefined =>
  (client as ClientExtras | undefined)?.access_token_ttl ?? undefined;

/** What the provider needs to know of a registered API. */
export interface ApiInfo {
  identifier: string;
  scopes: string[];
  accessTokenTtlSeconds: number | null;
}

/**
 * The APIs Latchkey issues tokens for (RFC 8707), as registered in the database (`latchkey api`):
 * JWT access tokens (RFC 9068) signed ES256, with the API's identifier as `aud`. A client may only
 * get tokens for the APIs it was registered for, and only the scopes it was registered with.
 */
export function resourceServers(
  findApi: (identifier: string) => Promise<ApiInfo | undefined>,
  defaultTtlSeconds: number,
) {
  const extras = (client: KoaContextWithOIDC['oidc']['client']) => client as unknown as ClientExtras | undefined;
  const allowedFor = (client: KoaContextWithOIDC['oidc']['client']) => extras(client)?.allowed_resources ?? [];

  return {
    /**
     * The resource server as this client may use it: only the scopes it was registered with. Asking
     * for one of the resource's other scopes is an error that names it, not a silent drop.
     */
    getResourceServerInfo: async (
      ctx: KoaContextWithOIDC,
      resource: string,
      client: KoaContextWithOIDC['oidc']['client'],
    ): Promise<ResourceServer> => {
      const api = allowedFor(client).includes(resource) ? await findApi(resource) : undefined;
      if (!api) throw new errors.InvalidTarget(`resource ${resource} is not available to this client`);
      const clientScopes = new Set(extras(client)?.resource_scopes ?? []);
      const refused = requestedScopes(ctx).filter((scope) => api.scopes.includes(scope) && !clientScopes.has(scope));
      if (refused.length)
        throw new errors.InvalidScope(`scope ${refused.join(' ')} is not allowed for this client`, refused.join(' '));
      return {
        scope: api.scopes.filter((scope) => clientScopes.has(scope)).join(' '),
        audience: api.identifier,
        accessTokenTTL: clientAccessTokenTtl(client) ?? api.accessTokenTtlSeconds ?? defaultTtlSeconds,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      };
    },

    /**
     * With no `resource` parameter, a client registered for exactly one API gets a token for it when
     * it asked for one of its scopes (or for none at all): clients should not need to know RFC 8707
     * to get a usable JWT.
     */
    defaultResource: async (
      ctx: KoaContextWithOIDC,
      client: KoaContextWithOIDC['oidc']['client'],
      oneOf?: readonly string[],
    ): Promise<string | readonly string[] | undefined> => {
      if (oneOf) return oneOf.length === 1 ? oneOf[0] : oneOf;
      const allowed = allowedFor(client);
      const chosen = extras(client)?.default_resource;
      const candidate = chosen && allowed.includes(chosen) ? chosen : allowed.length === 1 ? allowed[0] : undefined;
      if (!candidate) return undefined;
      const requested = requestedScopes(ctx);
      if (requested.length === 0) return candidate;
      const api = await findApi(candidate);
      return requested.some((scope) => api?.scopes.includes(scope)) ? candidate : undefined;
    },
  };
}
