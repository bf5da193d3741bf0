import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';

import { TASK_SERVICE_SCOPES, TASK_USER_SCOPES } from '../../shared/protocol.ts';

interface ClientExtras {
  allowed_resources?: string[];
  resource_scopes?: string[];
  access_token_ttl?: number;
}

/** A client's own access-token lifetime, when it has one (`latchkey client update --access-token-ttl`). */
export const clientAccessTokenTtl = (client: unknown): number | undefined =>
  (client as ClientExtras | undefined)?.access_token_ttl ?? undefined;

/**
 * The APIs Latchkey issues tokens for (RFC 8707). Today one: the task API, with JWT access tokens
 * (RFC 9068) signed ES256. A client may only get tokens for resources it was registered for.
 */
export function resourceServers(taskApi: { identifier: string; accessTokenTtl: number }) {
  const servers = new Map<string, ResourceServer>([
    [
      taskApi.identifier,
      {
        scope: [...TASK_USER_SCOPES, ...TASK_SERVICE_SCOPES].join(' '),
        audience: taskApi.identifier,
        accessTokenTTL: taskApi.accessTokenTtl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      },
    ],
  ]);

  const extras = (client: KoaContextWithOIDC['oidc']['client']) => client as unknown as ClientExtras | undefined;
  const allowedFor = (client: KoaContextWithOIDC['oidc']['client']) => extras(client)?.allowed_resources ?? [];

  return {
    /**
     * The resource server as this client may use it: only the scopes it was registered with. Asking
     * for one of the resource's other scopes is an error that names it, not a silent drop.
     */
    getResourceServerInfo: (
      ctx: KoaContextWithOIDC,
      resource: string,
      client: KoaContextWithOIDC['oidc']['client'],
    ): ResourceServer => {
      const server = servers.get(resource);
      if (!server || !allowedFor(client).includes(resource))
        throw new errors.InvalidTarget(`resource ${resource} is not available to this client`);
      const clientScopes = new Set(extras(client)?.resource_scopes ?? []);
      const serverScopes = server.scope.split(' ');
      const scopeParam = ctx.oidc.params?.scope;
      const requested = typeof scopeParam === 'string' ? scopeParam.split(' ') : [];
      const refused = requested.filter((scope) => serverScopes.includes(scope) && !clientScopes.has(scope));
      if (refused.length)
        throw new errors.InvalidScope(`scope ${refused.join(' ')} is not allowed for this client`, refused.join(' '));
      const scope = serverScopes.filter((scope) => clientScopes.has(scope)).join(' ');
      return { ...server, scope, accessTokenTTL: clientAccessTokenTtl(client) ?? server.accessTokenTTL };
    },

    /**
     * With no `resource` parameter, a client whose only resource is the task API gets a token for it:
     * clients should not need to know RFC 8707 to get a usable JWT.
     */
    defaultResource: (
      ctx: KoaContextWithOIDC,
      client: KoaContextWithOIDC['oidc']['client'],
      oneOf?: readonly string[],
    ): string | readonly string[] | undefined => {
      if (oneOf) return oneOf.length === 1 ? oneOf[0] : oneOf;
      const allowed = allowedFor(client);
      if (allowed.length !== 1) return undefined;
      // Scopes that belong to no resource (openid alone) still get the resource if the client asked for any of its scopes.
      const scopeParam = ctx.oidc.params?.scope;
      const requested = typeof scopeParam === 'string' ? scopeParam.split(' ') : [''];
      const server = servers.get(allowed[0]!);
      const serverScopes = new Set(server?.scope.split(' '));
      return requested.some((scope) => serverScopes.has(scope)) || requested.every((scope) => scope === '')
        ? allowed[0]
        : undefined;
    },
  };
}
