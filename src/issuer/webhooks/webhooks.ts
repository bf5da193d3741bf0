import { randomBytes, randomUUID } from 'node:crypto';
import type { Sealer } from '../../shared/crypto/sealing.ts';
import type { SecurityEvent } from '../../accounts/security-events.ts';
import { urlProblem, type AddressPolicy } from './address-guard.ts';
import type { WebhookRepository } from './webhook-repository.ts';

/** How long a rotated-out secret keeps signing beside the new one. */
const PREVIOUS_SECRET_SECONDS = 86_400;
/** How long each instance keeps the list of enabled webhooks (a change reaches every instance within it). */
const SUBSCRIBERS_TTL_MS = 5_000;
/** How long delivered and given-up deliveries stay in the log. */
const DELIVERY_LOG_DAYS = 30;
const EVENT_TYPE_PATTERN = /^(\*|[a-z_]+\.\*|[a-z_]+\.[a-z_]+)$/;

/** A recorded security event, as the webhooks carry it. */
export interface RecordedEvent extends SecurityEvent {
  id: bigint;
  at: Date;
}

/** Whether `eventType` is among what a webhook asked for: exact, a family (`passkey.*`) or `*`. */
export function matchesEventTypes(eventType: string, patterns: string[]): boolean {
  return patterns.some(
    (pattern) =>
      pattern === '*' ||
      pattern === eventType ||
      (pattern.endsWith('.*') && eventType.startsWith(pattern.slice(0, -1))),
  );
}

/** The Standard Webhooks payload of an event: its type, time and non-secret facts. */
export function payloadOf(type: string, at: Date, data: Record<string, unknown>): string {
  return JSON.stringify({ type, timestamp: at.toISOString(), data });
}

const newMessageId = () => `msg_${randomUUID().replaceAll('-', '')}`;
const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export class WebhookInputError extends Error {}

/**
 * Webhooks for security events: subscriptions (a URL, event types, a secret shown once and
 * rotatable with a day of overlap), the fan-out of each recorded event into the delivery outbox,
 * and the operator's actions (test, list deliveries, replay). Delivery itself is `webhookSender`.
 */
export function webhooks(options: {
  repository: WebhookRepository;
  sealer: Sealer;
  policy: AddressPolicy;
  /** Called when deliveries were queued, so the sender goes at once rather than at its next poll. */
  onQueued?: () => void;
}) {
  const { repository, sealer, policy } = options;
  let subscribers: { until: number; list: Awaited<ReturnType<WebhookRepository['listEnabled']>> } | undefined;
  const enabledWebhooks = async () => {
    if (!subscribers || subscribers.until < Date.now())
      subscribers = { until: Date.now() + SUBSCRIBERS_TTL_MS, list: await repository.listEnabled() };
    return subscribers.list;
  };
  const forget = () => {
    subscribers = undefined;
  };
  const presented = (webhook: Awaited<ReturnType<WebhookRepository['list']>>[number]) => ({
    id: webhook.id,
    url: webhook.url,
    eventTypes: webhook.eventTypes,
    enabled: webhook.enabled,
    disabledReason: webhook.disabledReason,
    consecutiveFailures: webhook.consecutiveFailures,
    createdAt: webhook.createdAt.toISOString(),
  });

  function checkInput(url: string, eventTypes: string[]): void {
    const problem = urlProblem(url, policy);
    if (problem) throw new WebhookInputError(`url ${problem}`);
    if (eventTypes.length === 0) throw new WebhookInputError('eventTypes must name at least one event type, or *');
    const bad = eventTypes.find((type) => !EVENT_TYPE_PATTERN.test(type));
    if (bad) throw new WebhookInputError(`eventTypes: "${bad}" is not an event type, a family such as passkey.*, or *`);
  }

  return {
    /** A new webhook; its secret is returned here only. */
    async create(url: string, eventTypes: string[]) {
      checkInput(url, eventTypes);
      const id = randomUUID();
      const secret = newSecret();
      const webhook = await repository.create({ id, url, eventTypes, secretSealed: sealer.seal(secret, id) });
      forget();
      return { ...presented(webhook), secret };
    },

    list: async () => (await repository.list()).map(presented),

    async find(id: string) {
      const webhook = await repository.find(id);
      return webhook ? presented(webhook) : undefined;
    },

    async remove(id: string): Promise<boolean> {
      forget();
      return repository.delete(id);
    },

    /** A new secret, returned here only; the old one keeps signing beside it for a day. */
    async rotateSecret(id: string) {
      const webhook = await repository.find(id);
      if (!webhook) return undefined;
      const secret = newSecret();
      const until = new Date(Date.now() + PREVIOUS_SECRET_SECONDS * 1000);
      await repository.rotateSecret(id, sealer.seal(secret, id), webhook.secretSealed, until);
      forget();
      return { id, secret, previousSecretValidUntil: until.toISOString() };
    },

    async setEnabled(id: string, enabled: boolean, reason: string | null = null) {
      if (!(await repository.find(id))) return undefined;
      const webhook = await repository.setEnabled(id, enabled, enabled ? null : reason);
      forget();
      return presented(webhook);
    },

    /** The secrets a delivery is signed with now: the current one, and the previous within its day. */
    async signingSecrets(id: string): Promise<{ url: string; enabled: boolean; secrets: string[] } | undefined> {
      const webhook = await repository.find(id);
      if (!webhook) return undefined;
      const secrets = [sealer.open(webhook.secretSealed, id)];
      if (webhook.previousSecretSealed && webhook.previousSecretUntil && webhook.previousSecretUntil > new Date())
        secrets.push(sealer.open(webhook.previousSecretSealed, id));
      return { url: webhook.url, enabled: webhook.enabled, secrets };
    },

    /** Queues `event` for every enabled webhook that asked for its type. */
    async fanOut(event: RecordedEvent): Promise<void> {
      const matching = (await enabledWebhooks()).filter((webhook) => matchesEventTypes(event.type, webhook.eventTypes));
      if (!matching.length) return;
      const payload = payloadOf(event.type, event.at, {
        eventId: event.id.toString(),
        userId: event.userId ?? null,
        actor: event.actor,
        ip: event.ip ?? null,
        detail: event.detail ?? {},
      });
      await repository.addDeliveries(
        matching.map((webhook) => ({
          webhookId: webhook.id,
          messageId: newMessageId(),
          eventType: event.type,
          payload,
        })),
      );
      options.onQueued?.();
    },

    /** A `webhook.test` event for this webhook alone. */
    async sendTest(id: string): Promise<{ messageId: string } | undefined> {
      if (!(await repository.find(id))) return undefined;
      const messageId = newMessageId();
      const payload = payloadOf('webhook.test', new Date(), { webhookId: id });
      await repository.addDeliveries([{ webhookId: id, messageId, eventType: 'webhook.test', payload }]);
      options.onQueued?.();
      return { messageId };
    },

    async deliveries(id: string, limit = 50) {
      return (await repository.deliveries(id, limit)).map((delivery) => ({
        id: delivery.id.toString(),
        messageId: delivery.messageId,
        eventType: delivery.eventType,
        status: delivery.status,
        attempts: delivery.attempts,
        lastStatus: delivery.lastStatus,
        lastError: delivery.lastError,
        nextAttemptAt: delivery.status === 'pending' ? delivery.nextAttemptAt.toISOString() : null,
        deliveredAt: delivery.deliveredAt?.toISOString() ?? null,
        createdAt: delivery.createdAt.toISOString(),
      }));
    },

    /** Keeps the delivery log to its last 30 days. */
    sweep: () => repository.deleteFinishedBefore(new Date(Date.now() - DELIVERY_LOG_DAYS * 86_400_000)),

    async replay(id: string, deliveryId: bigint): Promise<boolean> {
      const replayed = await repository.replay(id, deliveryId);
      if (replayed) options.onQueued?.();
      return replayed;
    },
  };
}

export type Webhooks = ReturnType<typeof webhooks>;
