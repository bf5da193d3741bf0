import type { SecurityEvent, SecurityEvents } from '../../accounts/security-events.ts';
import type { Config } from '../../shared/config/config.ts';
import { sealer, subkey } from '../../shared/crypto/sealing.ts';
import type { PrismaClient } from '../../shared/database/generated/issuer/client.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import { webhookRepository } from './webhook-repository.ts';
import { webhookSender, type DeliveryOutcome, type WebhookSender } from './webhook-sender.ts';
import { webhooks, type Webhooks } from './webhooks.ts';

/** The key-encryption subkey webhook secrets are sealed under. */
export const WEBHOOK_KEY_PURPOSE = 'latchkey webhook secrets';

/** The webhooks service and this process's sender, on the issuer's database. */
export function startWebhooks(options: {
  db: PrismaClient;
  keyEncryptionKey: Buffer;
  config: Config;
  log: Logger;
  onOutcome: (outcome: DeliveryOutcome) => void;
  /** Records a security event (a webhook turned off for failing is one). */
  record: (event: SecurityEvent) => Promise<unknown>;
  retryDelaysMs?: number[];
}): { webhooks: Webhooks; sender: WebhookSender } {
  const repository = webhookRepository(options.db);
  const policy = options.config.webhooks;
  const senderRef: { current?: WebhookSender } = {};
  const service = webhooks({
    repository,
    sealer: sealer(subkey(options.keyEncryptionKey, WEBHOOK_KEY_PURPOSE)),
    policy,
    onQueued: () => senderRef.current?.wake(),
  });
  senderRef.current = webhookSender({
    repository,
    webhooks: service,
    policy,
    log: options.log,
    onOutcome: options.onOutcome,
    ...(options.retryDelaysMs ? { retryDelaysMs: options.retryDelaysMs } : {}),
    onDisabled: async (webhookId) => {
      await options.record({ type: 'webhook.disabled', actor: 'system', detail: { webhookId, reason: 'failing' } });
    },
  });
  return { webhooks: service, sender: senderRef.current };
}

/**
 * The security log, each event written first and then queued for the webhooks that asked for it.
 * Queueing runs after the write and is not awaited by the request that caused the event; a failure
 * to queue is logged, never a failure of the request.
 */
export function feedingWebhooks(events: SecurityEvents, service: Webhooks, log: Logger): SecurityEvents {
  return {
    ...events,
    async record(event: SecurityEvent) {
      const recorded = await events.record(event);
      if (recorded)
        service
          .fanOut({ ...event, ...recorded })
          .catch((error: unknown) =>
            log.warn(
              { errMessage: (error as Error).message, eventType: event.type },
              'could not queue webhook deliveries',
            ),
          );
      return recorded;
    },
  };
}
