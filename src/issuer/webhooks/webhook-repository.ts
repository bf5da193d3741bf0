import type { PrismaClient } from '../../shared/database/generated/issuer/client.ts';

export interface ClaimedDelivery {
  id: bigint;
  webhookId: string;
  messageId: string;
  eventType: string;
  payload: string;
  /** Attempts including this one. */
  attempts: number;
}

/**
 * The only module on `webhooks` and `webhook_deliveries`. Deliveries are an outbox: each instance
 * claims due ones with FOR UPDATE SKIP LOCKED under a lease, so every event reaches each subscriber
 * once however many instances run. The raw SQL is the claim itself (Prisma has no SKIP LOCKED).
 */
export function webhookRepository(db: PrismaClient) {
  return {
    create: (data: { id: string; url: string; eventTypes: string[]; secretSealed: string }) =>
      db.webhook.create({ data }),
    list: () => db.webhook.findMany({ orderBy: { createdAt: 'asc' } }),
    find: (id: string) => db.webhook.findUnique({ where: { id } }),
    listEnabled: () => db.webhook.findMany({ where: { enabled: true } }),
    /**
     * The deliveries first, then the webhook: the order the sender's transactions lock them in (a
     * delivery, then its webhook's failure count). The cascade alone locked the webhook first, and a
     * delete during a delivery deadlocked against it (PostgreSQL aborted one side: seen in CI).
     */
    delete: async (id: string) => {
      const [, removed] = await db.$transaction([
        db.webhookDelivery.deleteMany({ where: { webhookId: id } }),
        db.webhook.deleteMany({ where: { id } }),
      ]);
      return removed.count === 1;
    },
    rotateSecret: (id: string, secretSealed: string, previousSecretSealed: string, previousSecretUntil: Date) =>
      db.webhook.update({ where: { id }, data: { secretSealed, previousSecretSealed, previousSecretUntil } }),
    setEnabled: (id: string, enabled: boolean, disabledReason: string | null) =>
      db.webhook.update({
        where: { id },
        data: { enabled, disabledReason, ...(enabled ? { consecutiveFailures: 0 } : {}) },
      }),

    addDeliveries: (rows: Array<{ webhookId: string; messageId: string; eventType: string; payload: string }>) =>
      rows.length ? db.webhookDelivery.createMany({ data: rows }) : Promise.resolve({ count: 0 }),

    async claim(limit: number, leaseSeconds: number): Promise<ClaimedDelivery[]> {
      return db.$queryRaw<ClaimedDelivery[]>`
        UPDATE webhook_deliveries
           SET claimed_until = now() + make_interval(secs => ${leaseSeconds}), attempts = attempts + 1
         WHERE id IN (
           SELECT id FROM webhook_deliveries
            WHERE status = 'pending' AND next_attempt_at <= now()
              AND (claimed_until IS NULL OR claimed_until < now())
            ORDER BY id
            LIMIT ${limit}
            FOR UPDATE SKIP LOCKED)
        RETURNING id, webhook_id AS "webhookId", message_id AS "messageId", event_type AS "eventType", payload, attempts`;
    },

    /** A success: the delivery is done, and its webhook's run of failures ends. */
    async delivered(id: bigint, webhookId: string, status: number): Promise<void> {
      await db.$transaction([
        db.webhookDelivery.update({
          where: { id },
          data: {
            status: 'delivered',
            lastStatus: status,
            lastError: null,
            deliveredAt: new Date(),
            claimedUntil: null,
          },
        }),
        db.webhook.updateMany({ where: { id: webhookId }, data: { consecutiveFailures: 0 } }),
      ]);
    },

    async retryLater(id: bigint, delayMs: number, status: number | null, error: string): Promise<void> {
      await db.webhookDelivery.update({
        where: { id },
        data: {
          nextAttemptAt: new Date(Date.now() + delayMs),
          claimedUntil: null,
          lastStatus: status,
          lastError: error.slice(0, 500),
        },
      });
    },

    /** Given up on: returns the webhook's failures in a row, this one included. */
    async failed(id: bigint, webhookId: string, status: number | null, error: string): Promise<number> {
      const [, webhook] = await db.$transaction([
        db.webhookDelivery.update({
          where: { id },
          data: { status: 'failed', claimedUntil: null, lastStatus: status, lastError: error.slice(0, 500) },
        }),
        db.webhook.update({ where: { id: webhookId }, data: { consecutiveFailures: { increment: 1 } } }),
      ]);
      return webhook.consecutiveFailures;
    },

    /** The delivery log is kept for a while, then swept: finished deliveries older than `before`. */
    deleteFinishedBefore: async (before: Date) =>
      (await db.webhookDelivery.deleteMany({ where: { status: { not: 'pending' }, createdAt: { lt: before } } })).count,

    deliveries: (webhookId: string, limit: number) =>
      db.webhookDelivery.findMany({ where: { webhookId }, orderBy: { id: 'desc' }, take: limit }),

    /** Sends a delivery again, with its message id (receivers deduplicate on it). */
    replay: async (webhookId: string, id: bigint) =>
      (
        await db.webhookDelivery.updateMany({
          where: { id, webhookId },
          data: { status: 'pending', attempts: 0, nextAttemptAt: new Date(), claimedUntil: null, deliveredAt: null },
        })
      ).count === 1,
  };
}

export type WebhookRepository = ReturnType<typeof webhookRepository>;
