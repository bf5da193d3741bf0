import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { Logger } from '../../shared/logging/logger.ts';
import { checkDestination, type AddressPolicy } from './address-guard.ts';
import type { ClaimedDelivery, WebhookRepository } from './webhook-repository.ts';
import type { Webhooks } from './webhooks.ts';

/** After a failed attempt: the waits before the next ones (then it is given up on), each with ±20% jitter. */
export const WEBHOOK_RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 7_200_000];
/** Deliveries given up on in a row before a webhook is turned off. */
export const DISABLE_AFTER_FAILURES = 5;
const LEASE_SECONDS = 60;
const BATCH = 10;
const TIMEOUT_MS = 10_000;

export type DeliveryOutcome = 'delivered' | 'retried' | 'failed' | 'refused';

/** The signature header for `secrets`: one `v1,…` per secret (two during a rotation's overlap). */
export function signatures(secrets: string[], messageId: string, at: Date, payload: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(messageId, at, payload)).join(' ');
}

/** Posts `payload` to `url`, connecting to the address the guard checked (no second lookup to rebind). */
function post(
  url: string,
  pinned: { address: string; family: 4 | 6 },
  headers: Record<string, string>,
  payload: string,
): Promise<number> {
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) callback(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(payload)) }, lookup },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    outgoing.setTimeout(TIMEOUT_MS, () => outgoing.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

/**
 * Delivers the outbox: claims due deliveries (SKIP LOCKED, so each goes out once across instances),
 * signs each attempt afresh (a new timestamp and signature, the same `webhook-id`), checks the
 * destination before every attempt, retries with exponential back-off and jitter, and turns a
 * webhook off after DISABLE_AFTER_FAILURES deliveries in a row were given up on.
 */
export function webhookSender(options: {
  repository: WebhookRepository;
  webhooks: Pick<Webhooks, 'signingSecrets' | 'setEnabled'>;
  policy: AddressPolicy;
  log: Logger;
  retryDelaysMs?: number[];
  pollMs?: number;
  onOutcome?: (outcome: DeliveryOutcome) => void;
  /** A webhook was turned off for failing (the security log records it). */
  onDisabled?: (webhookId: string) => Promise<void>;
}) {
  const { repository, webhooks, policy, log } = options;
  const delays = options.retryDelaysMs ?? WEBHOOK_RETRY_DELAYS_MS;
  const pollMs = options.pollMs ?? 1_000;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  async function attempt(delivery: ClaimedDelivery): Promise<void> {
    const target = await webhooks.signingSecrets(delivery.webhookId);
    if (!target?.enabled) {
      await repository.failed(delivery.id, delivery.webhookId, null, 'the webhook is turned off');
      return;
    }
    const destination = await checkDestination(target.url, policy);
    let status: number | null = null;
    let error: string;
    if (!destination.allowed) {
      error = destination.reason;
      options.onOutcome?.('refused');
    } else {
      const at = new Date();
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'Latchkey-Webhooks/1',
        'webhook-id': delivery.messageId,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signatures(target.secrets, delivery.messageId, at, delivery.payload),
      };
      try {
        status = await post(target.url, destination, headers, delivery.payload);
        if (status >= 200 && status < 300) {
          await repository.delivered(delivery.id, delivery.webhookId, status);
          options.onOutcome?.('delivered');
          return;
        }
        error = `answered ${status}`;
      } catch (failure) {
        error = (failure as Error).message;
      }
    }
    const delay = delays[delivery.attempts - 1];
    if (delay !== undefined) {
      const jittered = Math.round(delay * (0.8 + Math.random() * 0.4));
      await repository.retryLater(delivery.id, jittered, status, error);
      options.onOutcome?.('retried');
      schedule(Math.min(jittered, pollMs));
      return;
    }
    const inARow = await repository.failed(delivery.id, delivery.webhookId, status, error);
    options.onOutcome?.('failed');
    log.warn({ webhookId: delivery.webhookId, eventType: delivery.eventType, error }, 'webhook delivery given up');
    if (inARow >= DISABLE_AFTER_FAILURES) {
      await webhooks.setEnabled(delivery.webhookId, false, 'failing');
      log.warn({ webhookId: delivery.webhookId }, 'webhook turned off after repeated failures');
      await options.onDisabled?.(delivery.webhookId);
    }
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(wake, delayMs);
    timer.unref();
  }

  function wake(): void {
    if (stopped) return;
    if (round) {
      again = true;
      return;
    }
    round = repository
      .claim(BATCH, LEASE_SECONDS)
      .then(async (claimed) => {
        await Promise.all(
          claimed.map((delivery) =>
            attempt(delivery).catch((error: unknown) =>
              log.warn({ errMessage: (error as Error).message }, 'webhook delivery could not be recorded'),
            ),
          ),
        );
        return claimed.length;
      })
      .catch(() => 0)
      .then((claimed) => {
        round = undefined;
        if ((again || claimed === BATCH) && !stopped) {
          again = false;
          wake();
        } else schedule(pollMs);
      });
  }

  schedule(0);
  return {
    /** Deliveries were queued: go now. */
    wake(): void {
      if (round) again = true;
      else schedule(0);
    },
    /** Resolves when no delivery round runs (tests). */
    settled: async () => {
      while (round) await round;
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await round;
    },
  };
}

export type WebhookSender = ReturnType<typeof webhookSender>;
