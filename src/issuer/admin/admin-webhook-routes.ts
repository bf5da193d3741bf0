import { z } from 'zod';
import { badRequest, notFound } from '../../shared/http/errors.ts';
import { WebhookInputError } from '../webhooks/webhooks.ts';
import { adminRoute, type AnyAdminRoute } from './admin-route.ts';
import { pageOf } from './admin-schemas.ts';
import type { Context } from 'koa';
import type { AdminActor } from './admin-actor.ts';
import { audit, type AdminServices } from './admin-services.ts';

const Webhook = z.object({
  id: z.uuid(),
  url: z.string(),
  eventTypes: z.array(z.string()),
  enabled: z.boolean(),
  disabledReason: z.string().nullable(),
  consecutiveFailures: z.number().int(),
  createdAt: z.string(),
});
const CreatedWebhook = Webhook.extend({ secret: z.string() });
const WebhookId = z.strictObject({ id: z.uuid() });
const DeliveryParams = z.strictObject({ id: z.uuid(), deliveryId: z.string().regex(/^\d{1,19}$/) });
const CreateWebhookBody = z.strictObject({
  url: z.string().min(1).max(2000),
  eventTypes: z.array(z.string().min(1).max(100)).min(1).max(50),
});
const EnabledBody = z.strictObject({ enabled: z.boolean() });
const Delivery = z.object({
  id: z.string(),
  messageId: z.string(),
  eventType: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  createdAt: z.string(),
});

/**
 * Webhooks for security events (Standard Webhooks): subscribe a URL to event types, see and replay
 * deliveries, send a test event, rotate the secret (shown once), turn one on or off.
 */
export function adminWebhookRoutes(services: AdminServices): AnyAdminRoute[] {
  const { webhooks } = services;
  const found = async (id: string) => {
    const webhook = await webhooks.find(id);
    if (!webhook) throw notFound('No such webhook.');
    return webhook;
  };
  /** Every change to a webhook is in the security log, by id and kind of change (never its secret). */
  const recordChange = (input: { actor: AdminActor; ctx: Context }, webhookId: string, change: string) =>
    audit(services, input.actor, input.ctx, { type: 'admin.webhook_changed', detail: { webhookId, change } });
  return [
    adminRoute({
      method: 'get',
      path: '/webhooks',
      tag: 'Webhooks',
      summary: 'List webhooks (never their secrets)',
      access: 'read',
      response: pageOf(Webhook),
      handle: async () => ({ items: await webhooks.list(), nextCursor: null }),
    }),
    adminRoute({
      method: 'post',
      path: '/webhooks',
      tag: 'Webhooks',
      summary: 'Subscribe a URL to security events; the signing secret is in this answer only',
      access: 'write',
      body: CreateWebhookBody,
      status: 201,
      response: CreatedWebhook,
      async handle({ body, actor, ctx }) {
        const created = await webhooks.create(body.url, body.eventTypes).catch((error: unknown) => {
          throw error instanceof WebhookInputError ? badRequest(error.message) : error;
        });
        await recordChange({ actor, ctx }, created.id, 'created');
        return created;
      },
    }),
    adminRoute({
      method: 'get',
      path: '/webhooks/:id',
      tag: 'Webhooks',
      summary: 'Show a webhook',
      access: 'read',
      params: WebhookId,
      response: Webhook,
      errors: [404],
      handle: ({ params }) => found(params.id),
    }),
    adminRoute({
      method: 'delete',
      path: '/webhooks/:id',
      tag: 'Webhooks',
      summary: 'Delete a webhook and its deliveries',
      access: 'write',
      params: WebhookId,
      status: 204,
      errors: [404],
      async handle({ params, actor, ctx }) {
        if (!(await webhooks.remove(params.id))) throw notFound('No such webhook.');
        await recordChange({ actor, ctx }, params.id, 'deleted');
      },
    }),
    adminRoute({
      method: 'put',
      path: '/webhooks/:id/enabled',
      tag: 'Webhooks',
      summary: 'Turn a webhook on or off (on again after it was turned off for failing)',
      access: 'write',
      params: WebhookId,
      body: EnabledBody,
      response: Webhook,
      errors: [404],
      async handle({ params, body, actor, ctx }) {
        const webhook = await webhooks.setEnabled(params.id, body.enabled, 'turned off by an administrator');
        if (!webhook) throw notFound('No such webhook.');
        const change = body.enabled ? 'enabled' : 'disabled';
        await recordChange({ actor, ctx }, params.id, change);
        return webhook;
      },
    }),
    adminRoute({
      method: 'post',
      path: '/webhooks/:id/rotate-secret',
      tag: 'Webhooks',
      summary: 'A new signing secret (in this answer only); the old one also signs for a day',
      access: 'write',
      params: WebhookId,
      response: z.object({ id: z.uuid(), secret: z.string(), previousSecretValidUntil: z.string() }),
      errors: [404],
      async handle({ params, actor, ctx }) {
        const rotated = await webhooks.rotateSecret(params.id);
        if (!rotated) throw notFound('No such webhook.');
        await recordChange({ actor, ctx }, params.id, 'secret_rotated');
        return rotated;
      },
    }),
    adminRoute({
      method: 'post',
      path: '/webhooks/:id/test',
      tag: 'Webhooks',
      summary: 'Send a webhook.test event to this webhook',
      access: 'write',
      params: WebhookId,
      status: 202,
      response: z.object({ messageId: z.string() }),
      errors: [404],
      async handle({ params }) {
        const sent = await webhooks.sendTest(params.id);
        if (!sent) throw notFound('No such webhook.');
        return sent;
      },
    }),
    adminRoute({
      method: 'get',
      path: '/webhooks/:id/deliveries',
      tag: 'Webhooks',
      summary: 'The latest deliveries of a webhook, newest first, with each attempt’s outcome',
      access: 'read',
      params: WebhookId,
      response: pageOf(Delivery),
      errors: [404],
      async handle({ params }) {
        await found(params.id);
        return { items: await webhooks.deliveries(params.id), nextCursor: null };
      },
    }),
    adminRoute({
      method: 'post',
      path: '/webhooks/:id/deliveries/:deliveryId/replay',
      tag: 'Webhooks',
      summary: 'Deliver again, with the same webhook-id (receivers deduplicate on it)',
      access: 'write',
      params: DeliveryParams,
      status: 202,
      errors: [404],
      response: z.object({ replayed: z.literal(true) }),
      async handle({ params }) {
        if (!(await webhooks.replay(params.id, BigInt(params.deliveryId)))) throw notFound('No such delivery.');
        return { replayed: true as const };
      },
    }),
  ];
}
