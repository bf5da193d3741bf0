import { createHash, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../../shared/config/config.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import type { ClaimedMail, MailQueue } from './mail-queue.ts';

/** What the mailer needs of the configuration: the sender and the transport. */
export type MailSettings = Config['mail'];

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  /** What kind of message, for the log: the log never holds the body (it may carry a link or code). */
  kind: string;
}

export interface Mailer {
  /** Queues the message and returns at once: the user's response never waits on, or depends on, mail. */
  send(message: MailMessage): void;
  /**
   * Composes the message as `send` would, at the same moment, and throws it away unsent: for addresses
   * without an account, so the server is as busy after answering them as after answering a known one.
   */
  pretendToSend(message: MailMessage): void;
  /** Resolves when every message this process queued has been delivered or given up on (tests). */
  idle(): Promise<void>;
  /**
   * At shutdown: mail this process just queued, and mail in hand, get up to `timeoutMs` to go out;
   * what is still in hand then is given back to the queue (for the next start or another instance)
   * and logged by kind (never by address). Mail waiting for a retry stays queued.
   */
  drain(timeoutMs: number): Promise<void>;
  /** For readiness details: `failing` from a failed delivery until the next one succeeds. */
  state(): 'ok' | 'failing';
}

const RETRY_DELAYS_MS = [1_000, 5_000, 30_000];

/**
 * `deliver`: where a message goes (SMTP, or an .eml file in the outbox folder), returning 'smtp' or
 * the file written. `compose`: the same message built and thrown away (for `pretendToSend`).
 */
function mailTransport(settings: MailSettings): {
  deliver: (message: MailMessage) => Promise<string>;
  compose: (message: MailMessage) => Promise<unknown>;
} {
  const { transport } = settings;
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true });
  const envelope = (message: MailMessage) => ({
    from: settings.from,
    to: message.to,
    subject: message.subject,
    text: message.text,
  });
  const compose = (message: MailMessage) => composer.sendMail(envelope(message));
  if (transport.kind === 'smtp') {
    // Bounded waits: a server that accepts the connection and then says nothing must not hold mail for minutes.
    const smtp = nodemailer.createTransport({
      url: transport.url,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
    return { deliver: async (message) => (await smtp.sendMail(envelope(message)), 'smtp'), compose };
  }
  const deliver = async (message: MailMessage) => {
    const composed = await compose(message);
    await mkdir(transport.directory, { recursive: true });
    const base = path.join(transport.directory, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}`);
    await writeFile(`${base}.eml`, composed.message as Buffer, { mode: 0o600 });
    // The same message as plain text beside it: the .eml is quoted-printable, which splits a long
    // link with soft line breaks when a person opens the file and copies it.
    const plain = `To: ${message.to}\nSubject: ${message.subject}\n\n${message.text}\n`;
    await writeFile(`${base}.txt`, plain, { mode: 0o600 });
    return `${base}.eml`;
  };
  return { deliver, compose };
}

/** What became of a message: queued, sent, retried after a failure, or failed (given up on). */
export type MailOutcome = 'queued' | 'sent' | 'retried' | 'failed';

export interface MailerOptions {
  /** The durable outbox every message is written to before anything is sent. */
  queue: MailQueue;
  retryDelaysMs?: number[];
  onOutcome?: (kind: string, outcome: MailOutcome) => void;
  /** How often the queue is looked at for mail due again or left by another instance. */
  pollMs?: number;
}

/** Names where mail goes (an SMTP URL, credentials included, or an outbox folder) without revealing it. */
function transportFingerprint(settings: MailSettings): string {
  const { transport } = settings;
  const where = transport.kind === 'smtp' ? transport.url : `outbox:${transport.directory}`;
  return createHash('sha256').update(where).digest('base64url').slice(0, 16);
}

/** How long a claimed message is ours: longer than one SMTP attempt's bounded waits (10 + 10 + 20 s). */
const LEASE_SECONDS = 60;
const BATCH = 10;
const DELIVERY_DELAY_MS = 50;

/**
 * Every message is first written to the durable queue (PostgreSQL, or the embedded PGlite), then
 * delivered by this process or any other instance: SMTP when SMTP_URL is set, otherwise an .eml
 * file in DATA_DIR/outbox with a .txt beside it whose links can be copied whole (the embedded demo).
 * Failures are retried with back-off and logged, never surfaced to the user; a restart or a crash
 * loses nothing that reached the queue (a few milliseconds after the response that caused it).
 */
class DurableMailer implements Mailer {
  readonly #deliver: (message: MailMessage) => Promise<string>;
  readonly #compose: (message: MailMessage) => Promise<unknown>;
  readonly #queue: MailQueue;
  readonly #transport: string;
  readonly #log: Logger;
  readonly #retryDelays: number[];
  readonly #onOutcome: (kind: string, outcome: MailOutcome) => void;
  readonly #pollMs: number;
  /** Writes to the queue not yet finished (they run after the response). */
  readonly #writes = new Set<Promise<void>>();
  /** Ids this process queued and has not seen delivered or given up on (for `idle`). */
  readonly #queued = new Set<bigint>();
  /** Claimed messages being delivered now, by id, with their kind. */
  readonly #inHand = new Map<bigint, string>();
  #round: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #failing = false;
  #stopped = false;
  #queueUnreadable = false;

  constructor(settings: MailSettings, log: Logger, options: MailerOptions) {
    ({ deliver: this.#deliver, compose: this.#compose } = mailTransport(settings));
    this.#queue = options.queue;
    this.#transport = transportFingerprint(settings);
    this.#log = log;
    this.#retryDelays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.#onOutcome = options.onOutcome ?? (() => {});
    this.#pollMs = options.pollMs ?? 1_000;
    // Mail left by a crash, or due again, is picked up from the start.
    this.#schedule(0);
  }

  send(message: MailMessage): void {
    this.#onOutcome(message.kind, 'queued');
    this.#enqueue(message.kind, (transport) => this.#queue.add(message, transport));
  }

  pretendToSend(message: MailMessage): void {
    // The same work as a real message at the same moments: a sealed row written right after the
    // response, then claimed, opened and composed in a delivery round, and removed unsent.
    this.#enqueue(message.kind, (transport) => this.#queue.addDecoy(message, transport));
  }

  /** Writes a row to the queue right after the response, and starts a delivery round a moment later. */
  #enqueue(kind: string, write: (transport: string) => Promise<bigint>): void {
    this.#afterResponse(async () => {
      const id = await write(this.#transport).catch((error: unknown) => {
        this.#log.error({ mailKind: kind, errMessage: (error as Error).message }, 'could not queue mail');
        return undefined;
      });
      if (id === undefined) return;
      this.#queued.add(id);
      // Delivery starts a moment later, not in the same turn: the request that queued the message has
      // finished by then, so no client (nor a test timing both kinds of address) waits on it.
      if (this.#round) this.#again = true;
      else this.#schedule(DELIVERY_DELAY_MS);
    });
  }

  async idle(): Promise<void> {
    for (;;) {
      while (this.#writes.size) await Promise.all([...this.#writes]);
      await this.#round;
      const ids = [...this.#queued];
      const left = await this.#queue.countOf(ids);
      if (left === 0) {
        this.#queued.clear();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
      this.#wake();
    }
  }

  async drain(timeoutMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    const finish = async () => {
      while (this.#writes.size) await Promise.all([...this.#writes]);
      await this.#round;
      // What this process just queued goes out now if it can, before the stores close.
      if (this.#queued.size) await this.#deliverDue().catch(() => 0);
    };
    await Promise.race([finish(), timedOut]);
    clearTimeout(timer);
    if (this.#inHand.size) {
      const kinds: Record<string, number> = {};
      for (const kind of this.#inHand.values()) kinds[kind] = (kinds[kind] ?? 0) + 1;
      // Given back now, so the next start or another instance sends them without waiting for the lease.
      await this.#queue.release([...this.#inHand.keys()]).catch(() => undefined);
      this.#log.warn({ undelivered: kinds }, 'shutting down with mail in hand; it stays queued');
    }
  }

  state(): 'ok' | 'failing' {
    return this.#failing ? 'failing' : 'ok';
  }

  // Work starts after this turn of the event loop: the response goes out first, and composing a
  // message adds nothing to it (which would tell a known address from an unknown one by timing).
  #afterResponse(work: () => Promise<void>): void {
    const job: Promise<void> = new Promise((resolve) => setImmediate(resolve))
      .then(work)
      .finally(() => this.#writes.delete(job));
    this.#writes.add(job);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#wake(), delayMs);
    this.#timer.unref();
  }

  /** A delivery round now, or right after the one running. */
  #wake(): void {
    if (this.#stopped) return;
    if (this.#round) {
      this.#again = true;
      return;
    }
    this.#round = this.#deliverDue()
      .then((claimed) => {
        if (this.#queueUnreadable) this.#log.info('the mail queue is readable again');
        this.#queueUnreadable = false;
        return claimed;
      })
      .catch((error: unknown) => {
        // Said once per outage, not at every poll.
        if (!this.#queueUnreadable)
          this.#log.warn({ errMessage: (error as Error).message }, 'could not read the mail queue; will retry');
        this.#queueUnreadable = true;
        return 0;
      })
      .then((claimed) => {
        this.#round = undefined;
        const full = claimed === BATCH;
        if ((this.#again || full) && !this.#stopped) {
          this.#again = false;
          this.#wake();
        } else this.#schedule(this.#pollMs);
      });
  }

  async #deliverDue(): Promise<number> {
    const claimed = await this.#queue.claim(BATCH, LEASE_SECONDS, this.#transport);
    await Promise.all(claimed.map((mail) => this.#attempt(mail)));
    return claimed.length;
  }

  async #attempt({ id, message, attempts, decoy }: ClaimedMail): Promise<void> {
    if (decoy) return this.#discard(id, message);
    this.#inHand.set(id, message.kind);
    try {
      const where = await this.#deliver(message);
      this.#failing = false;
      this.#onOutcome(message.kind, 'sent');
      await this.#queue.remove(id);
      this.#queued.delete(id);
      const deliveredTo = where === 'smtp' ? 'smtp' : 'outbox';
      this.#log.info({ mailKind: message.kind, deliveredTo, file: where === 'smtp' ? undefined : where }, 'mail sent');
    } catch (error) {
      await this.#failed(id, message, (error as Error).message, attempts);
    } finally {
      this.#inHand.delete(id);
    }
  }

  /** A decoy: composed as its delivery would compose it, then removed; nothing is sent or logged. */
  async #discard(id: bigint, message: MailMessage): Promise<void> {
    await this.#compose(message).catch(() => undefined);
    await this.#queue.remove(id);
    this.#queued.delete(id);
  }

  /** After a failed try: due again after its back-off, or (the last try) given up on. */
  async #failed(id: bigint, message: MailMessage, reason: string, attempts: number): Promise<void> {
    this.#failing = true;
    const delay = this.#retryDelays[attempts - 1];
    this.#onOutcome(message.kind, delay === undefined ? 'failed' : 'retried');
    if (delay === undefined) {
      await this.#queue.remove(id);
      this.#queued.delete(id);
      this.#log.error(
        { mailKind: message.kind, errMessage: reason, tries: attempts },
        'mail could not be delivered; giving up',
      );
      return;
    }
    await this.#queue.retryLater(id, delay, reason);
    this.#log.warn(
      { mailKind: message.kind, errMessage: reason, retryInMs: delay },
      'mail delivery failed; will retry',
    );
    this.#schedule(Math.min(delay, this.#pollMs));
  }
}

export function createMailer(settings: MailSettings, log: Logger, options: MailerOptions): Mailer {
  return new DurableMailer(settings, log, options);
}
