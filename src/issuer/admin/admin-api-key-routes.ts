import { badRequest, notFound } from '../../shared/http/errors.ts';
import { decodeCursor, encodeCursor } from '../../shared/database/page-cursor.ts';
import { ApiKeyInputError, presentKey } from '../api-keys/api-keys.ts';
import { adminRoute, type AnyAdminRoute } from './admin-route.ts';
import {
  ApiKey,
  ApiKeyId,
  ApiKeyListQuery,
  ClientId,
  CreateApiKeyBody,
  CreatedApiKey,
  LeakedKeyBody,
  pageOf,
} from './admin-schemas.ts';
import { audit, type AdminServices } from './admin-services.ts';

/**
 * Everyone's API keys: list and revoke any (a person makes their own on /account), revoke a leaked
 * one from its full text, and make a service client's keys (its secrets with fewer permissions).
 */
export function adminApiKeyRoutes(services: AdminServices): AnyAdminRoute[] {
  const { apiKeys } = services;
  const tag = 'API keys';
  return [
    adminRoute({
      method: 'get',
      path: '/api-keys',
      tag,
      summary: 'List API keys, newest first (never a key or its hash)',
      access: 'read',
      query: ApiKeyListQuery,
      response: pageOf(ApiKey),
      async handle({ query }) {
        const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
        if (query.cursor && !cursor) throw badRequest('query.cursor is not a cursor this API issued.');
        const rows = await apiKeys.listAll(query, query.limit + 1, cursor);
        const page = rows.slice(0, query.limit);
        return {
          items: page.map(presentKey),
          nextCursor: rows.length > query.limit ? encodeCursor(page.at(-1)!) : null,
        };
      },
    }),
    adminRoute({
      method: 'get',
      path: '/api-keys/:id',
      tag,
      summary: 'Show an API key',
      access: 'read',
      params: ApiKeyId,
      response: ApiKey,
      errors: [404],
      async handle({ params }) {
        const key = await apiKeys.find(params.id);
        if (!key) throw notFound('No such API key.');
        return presentKey(key);
      },
    }),
    adminRoute({
      method: 'post',
      path: '/api-keys/:id/revoke',
      tag,
      summary: 'Revoke an API key: it stops working at once',
      access: 'write',
      params: ApiKeyId,
      response: ApiKey,
      errors: [404],
      async handle({ params, actor, ctx }) {
        const key = await apiKeys.revoke(params.id);
        if (!key) throw notFound('No such API key.');
        await audit(services, actor, ctx, {
          type: 'api_key.revoked',
          userId: key.userId ?? undefined,
          detail: { keyId: key.id, prefix: key.prefix, clientId: key.clientId, by: 'administrator' },
        });
        return presentKey(key);
      },
    }),
    adminRoute({
      method: 'post',
      path: '/api-keys/revoke-leaked',
      tag,
      summary: 'Revoke a leaked key given in full (from a secret scanner or a paste); its owner is named',
      access: 'write',
      body: LeakedKeyBody,
      response: ApiKey,
      errors: [404],
      async handle({ body, actor, ctx }) {
        const key = await apiKeys.revokeLeaked(body.key);
        if (!key) throw notFound('This is not a key Latchkey issued (or its checksum is wrong).');
        await audit(services, actor, ctx, {
          type: 'api_key.revoked',
          userId: key.userId ?? undefined,
          detail: { keyId: key.id, prefix: key.prefix, clientId: key.clientId, by: 'leak_report' },
        });
        return presentKey(key);
      },
    }),
    adminRoute({
      method: 'post',
      path: '/clients/:id/api-keys',
      tag,
      summary: "Make a service client's key (lk_svc_, used as its secret); the key is in this answer only",
      access: 'write',
      params: ClientId,
      body: CreateApiKeyBody,
      status: 201,
      response: CreatedApiKey,
      errors: [404],
      async handle({ params, body, actor, ctx }) {
        const client = await services.clients.find(params.id);
        if (!client) throw notFound('No such client.');
        if (client.type !== 'service' || !client.tokenEndpointAuthMethod.startsWith('client_secret'))
          throw badRequest('Only a service client that authenticates with a secret can have keys.');
        const made = await apiKeys.create({ clientId: client.id }, body).catch((error: unknown) => {
          throw error instanceof ApiKeyInputError ? badRequest(error.message) : error;
        });
        await audit(services, actor, ctx, {
          type: 'api_key.created',
          detail: { keyId: made.record.id, prefix: made.record.prefix, clientId: client.id },
        });
        return { ...presentKey(made.record), key: made.key };
      },
    }),
  ];
}
