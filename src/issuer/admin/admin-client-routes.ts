import { notFound } from '../../shared/http/errors.ts';
import type { ClientRow } from '../clients/client-repository.ts';
import { ClientValidationError } from '../clients/client-service.ts';
import { adminRoute, type AnyAdminRoute } from './admin-route.ts';
import {
  Client,
  ClientId,
  ClientRoleParams,
  ClientSecret,
  CreateClientBody,
  CreatedClient,
  pageOf,
  RoleHeld,
  RolesBody,
  UpdateClientBody,
} from './admin-schemas.ts';
import { audit, type AdminServices } from './admin-services.ts';

export function presentClient(client: ClientRow, roles: string[]) {
  return {
    id: client.id,
    name: client.name,
    type: client.type,
    redirectUris: client.redirectUris,
    postLogoutRedirectUris: client.postLogoutRedirectUris,
    grantTypes: client.grantTypes,
    tokenExchangeSubjectTypes: client.tokenExchangeSubjectTypes,
    scopes: client.scopes,
    resources: client.resources,
    defaultResource: client.defaultResource,
    firstParty: client.firstParty,
    pkceRequired: client.pkceRequired,
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    accessTokenTtlSeconds: client.accessTokenTtlSeconds,
    logoUri: client.logoUri,
    clientUri: client.clientUri,
    policyUri: client.policyUri,
    tosUri: client.tosUri,
    roles,
    createdAt: client.createdAt.toISOString(),
  };
}

/** Clients: register, change every field, rotate the secret (shown once), delete, give roles. */
export function adminClientRoutes(services: AdminServices): AnyAdminRoute[] {
  const { clients, roles } = services;
  const tag = 'Clients';
  const load = async (id: string) => {
    const client = await clients.find(id);
    if (!client) throw notFound('No such client.');
    return client;
  };
  const present = async (client: ClientRow) => presentClient(client, await roles.rolesOf({ clientId: client.id }));
  const withOwnTokens = (client: ClientRow) => {
    // Only a client's own tokens (client credentials) carry its roles; a person's come from the person.
    if (!client.grantTypes.includes('client_credentials'))
      throw new ClientValidationError(
        `client ${client.id} gets no tokens of its own (no client_credentials): it holds no roles`,
      );
    return client;
  };
  return [
    adminRoute({
      method: 'get',
      path: '/clients',
      tag,
      summary: 'List clients',
      access: 'read',
      response: pageOf(Client),
      async handle() {
        return { items: await Promise.all((await clients.list()).map(present)), nextCursor: null };
      },
    }),
    adminRoute({
      method: 'post',
      path: '/clients',
      tag,
      summary: 'Register a client; a confidential one’s secret is in this response only',
      access: 'write',
      body: CreateClientBody,
      status: 201,
      response: CreatedClient,
      async handle({ body, actor, ctx }) {
        const { client, secret } = await clients.create(body);
        await audit(services, actor, ctx, {
          type: 'admin.client_created',
          detail: { clientId: client.id, type: client.type },
        });
        ctx.set('Location', `/admin/v1/clients/${client.id}`);
        return { ...(await present(client)), ...(secret ? { clientSecret: secret } : {}) };
      },
    }),
    adminRoute({
      method: 'get',
      path: '/clients/:id',
      tag,
      summary: 'Show a client',
      access: 'read',
      params: ClientId,
      response: Client,
      errors: [404],
      handle: async ({ params }) => present(await load(params.id)),
    }),
    adminRoute({
      method: 'patch',
      path: '/clients/:id',
      tag,
      summary: 'Change a client: what is given replaces, the rest stays; checked by the rules of a new one',
      access: 'write',
      params: ClientId,
      body: UpdateClientBody,
      response: Client,
      errors: [404],
      async handle({ params, body, actor, ctx }) {
        const client = await clients.update(params.id, body);
        if (!client) throw notFound('No such client.');
        const fields = Object.keys(body).join(',');
        await audit(services, actor, ctx, { type: 'admin.client_updated', detail: { clientId: client.id, fields } });
        return present(client);
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/clients/:id',
      tag,
      summary: 'Delete a client',
      access: 'write',
      params: ClientId,
      status: 204,
      errors: [404],
      async handle({ params, actor, ctx }) {
        if (!(await clients.delete(params.id))) throw notFound('No such client.');
        await audit(services, actor, ctx, { type: 'admin.client_deleted', detail: { clientId: params.id } });
      },
    }),
    adminRoute({
      method: 'post',
      path: '/clients/:id/secret',
      tag,
      summary: 'Rotate the secret: the new one is in this response only, the old one stops working',
      access: 'write',
      params: ClientId,
      response: ClientSecret,
      errors: [404],
      async handle({ params, actor, ctx }) {
        const client = await load(params.id);
        const secret = await clients.rotateSecret(client.id);
        if (!secret)
          throw new ClientValidationError(`client ${client.id} is public or uses private_key_jwt: it has no secret`);
        await audit(services, actor, ctx, { type: 'admin.client_secret_rotated', detail: { clientId: client.id } });
        return { clientId: client.id, clientSecret: secret };
      },
    }),
    adminRoute({
      method: 'post',
      path: '/clients/:id/roles',
      tag,
      summary: 'Give a service client roles: its own tokens carry what they grant',
      access: 'write',
      params: ClientId,
      body: RolesBody,
      response: RoleHeld,
      errors: [404],
      async handle({ params, body, actor, ctx }) {
        const client = withOwnTokens(await load(params.id));
        const held = await roles.assign({ clientId: client.id }, body.roles);
        await audit(services, actor, ctx, {
          type: 'admin.roles_assigned',
          detail: { clientId: client.id, added: body.roles.join(' ') },
        });
        return { roles: held };
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/clients/:id/roles/:role',
      tag,
      summary: 'Take a role from a service client',
      access: 'write',
      params: ClientRoleParams,
      response: RoleHeld,
      errors: [404],
      async handle({ params, actor, ctx }) {
        const client = await load(params.id);
        const held = await roles.unassign({ clientId: client.id }, [params.role]);
        await audit(services, actor, ctx, {
          type: 'admin.roles_assigned',
          detail: { clientId: client.id, removed: params.role },
        });
        return { roles: held };
      },
    }),
  ];
}
