import type { Sealer } from '../../shared/crypto/sealing.ts';
import type { PrismaClient } from '../../shared/database/generated/issuer/client.ts';

/** A message as queued: who it goes to, what it says, and its kind (for logs and metrics only). */
export interface QueuedMessage {
  to: string;
  subject: string;
  text: string;
  kind: string;
}

/** A message an instance has claimed: it holds it until the lease passes. */
export interface ClaimedMail {
  id: bigint;
  message: QueuedMessage;
  /** Delivery attempts including this one. */
  attempts: number;
  /** A decoy (see `addDecoy`): composed like a delivery, then removed, never sent. */
  decoy: boolean;
}

/** The key-encryption subkey the queued bodies are sealed under. */
export const MAIL_QUEUE_KEY_PURPOSE = 'latchkey mail queue';

/** After this long, a message is anyone's to deliver, whatever transport it was queued for. */
const ANY_TRANSPORT_AFTER_SECONDS = 600;

/** A decoy's kind: claimed like any message, composed, and removed unsent. */
const DECOY_KIND = 'decoy';

/** Binds each sealed row to this table: a ciphertext from another table does not open here. */
const ASSOCIATED_DATA = 'mail_queue';

/**
 * The only module on the `mail_queue` table: the durable outbox the mailer delivers from. Rows are
 * claimed with FOR UPDATE SKIP LOCKED under a lease, so several instances share the work and each
 * message goes out once; a holder that dies leaves its rows to be claimed again when the lease ends.
 * The raw SQL is the claim itself (Prisma has no SKIP LOCKED); the rest is Prisma.
 */
export function mailQueue(db: PrismaClient, sealer: Sealer) {
  return {
    /** Queues `message` for `transport` (a fingerprint of where it is to go). */
    async add(message: QueuedMessage, transport: string): Promise<bigint> {
      const { to, subject, text } = message;
      const sealed = sealer.seal(JSON.stringify({ to, subject, text }), ASSOCIATED_DATA);
      const row = await db.queuedMail.create({ data: { kind: message.kind, transport, sealed }, select: { id: true } });
      return row.id;
    },

    /**
     * Up to `limit` due rows, not held by anyone (or whose holder's lease passed), now held by the
     * caller: those queued for its `transport`, and any that waited ten minutes (the SMTP server
     * changed, or an instance with another one queued them).
     */
    async claim(limit: number, leaseSeconds: number, transport: string): Promise<ClaimedMail[]> {
      const rows = await db.$queryRaw<Array<{ id: bigint; kind: string; sealed: string; attempts: number }>>`
        UPDATE mail_queue
           SET claimed_until = now() + make_interval(secs => ${leaseSeconds}), attempts = attempts + 1
         WHERE id IN (
           SELECT id FROM mail_queue
            WHERE next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
              AND (transport = ${transport} OR created_at < now() - make_interval(secs => ${ANY_TRANSPORT_AFTER_SECONDS}))
            ORDER BY id
            LIMIT ${limit}
            FOR UPDATE SKIP LOCKED)
        RETURNING id, kind, sealed, attempts`;
      return rows.map((row) => {
        const opened = JSON.parse(sealer.open(row.sealed, ASSOCIATED_DATA)) as Omit<QueuedMessage, 'kind'>;
        const decoy = row.kind === DECOY_KIND;
        return { id: row.id, attempts: row.attempts, decoy, message: { ...opened, kind: row.kind } };
      });
    },

    /**
     * A row as costly to write as `message`'s, for an address without an account: it is claimed,
     * opened and composed in a delivery round like a real message, then removed unsent, so the
     * server does the same work, at the same moments, for a known and an unknown address (see
     * pretendToSend). It holds fillers of the same lengths, never the address typed or the link.
     */
    async addDecoy(message: QueuedMessage, transport: string): Promise<bigint> {
      const { to, subject, text } = message;
      // Still shaped like an address, so composing it does what composing a real one does, under the
      // reserved top-level domain `.invalid`: should an instance of an older version claim it during
      // a rolling upgrade and try to send it, nothing is delivered (RFC 6761).
      const address = to.replace(/[^@.]/g, 'x').replace(/\.[^.@]*$/, '.invalid');
      const filler = { to: address, subject, text: 'x'.repeat(text.length) };
      const sealed = sealer.seal(JSON.stringify(filler), ASSOCIATED_DATA);
      const row = await db.queuedMail.create({ data: { kind: DECOY_KIND, transport, sealed }, select: { id: true } });
      return row.id;
    },

    /** Delivered, or given up on: the row (and its sealed body) is gone. */
    async remove(id: bigint): Promise<void> {
      await db.queuedMail.deleteMany({ where: { id } });
    },

    /** A failed try: released, due again after `delayMs`, with why it failed. */
    async retryLater(id: bigint, delayMs: number, error: string): Promise<void> {
      await db.queuedMail.updateMany({
        where: { id },
        data: { claimedUntil: null, nextAttemptAt: new Date(Date.now() + delayMs), lastError: error.slice(0, 500) },
      });
    },

    /** Gives rows back without waiting for their lease (a stopping instance's unfinished ones). */
    async release(ids: bigint[]): Promise<void> {
      if (ids.length) await db.queuedMail.updateMany({ where: { id: { in: ids } }, data: { claimedUntil: null } });
    },

    /** How many of `ids` are still queued. */
    countOf: (ids: bigint[]) => (ids.length ? db.queuedMail.count({ where: { id: { in: ids } } }) : Promise.resolve(0)),
  };
}

export type MailQueue = ReturnType<typeof mailQueue>;
