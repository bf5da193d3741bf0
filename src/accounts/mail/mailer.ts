import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../../shared/config/config.ts';
import type { Logger } from '../../shared/logging/logger.ts';

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
  /** Resolves when every queued message has been delivered or given up on (tests). */
  idle(): Promise<void>;
  /**
   * At shutdown: retries waiting for their back-off are tried at once, and mail in hand gets up to
   * `timeoutMs` to go out; whatever is still undelivered then is logged by kind (never by address).
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

/**
 * SMTP when SMTP_URL is set; otherwise each message is written to DATA_DIR/outbox as an .eml file,
 * with a .txt beside it whose links can be copied whole (the embedded demo). Failures are retried with back-off and logged, never surfaced to the user.
 */
class QueuedMailer implements Mailer {
  readonly #deliver: (message: MailMessage) => Promise<string>;
  readonly #compose: (message: MailMessage) => Promise<unknown>;
  readonly #log: Logger;
  readonly #retryDelays: number[];
  readonly #onOutcome: (kind: string, outcome: MailOutcome) => void;
  readonly #pending = new Set<Promise<void>>();
  /** The kind of each message not yet delivered nor given up on, to name what a shutdown leaves behind. */
  readonly #inHand = new Map<symbol, string>();
  /** Wakes the back-off waits when shutdown starts, so the retries happen now. */
  readonly #wakeUps = new Set<() => void>();
  #failing = false;
  #shuttingDown = false;

  constructor(
    settings: MailSettings,
    log: Logger,
    retryDelays: number[],
    onOutcome: (kind: string, outcome: MailOutcome) => void,
  ) {
    ({ deliver: this.#deliver, compose: this.#compose } = mailTransport(settings));
    this.#log = log;
    this.#retryDelays = retryDelays;
    this.#onOutcome = onOutcome;
  }

  send(message: MailMessage): void {
    this.#onOutcome(message.kind, 'queued');
    this.#enqueue(() => this.#attempt(message));
  }

  pretendToSend(message: MailMessage): void {
    this.#enqueue(() =>
      this.#compose(message).then(
        () => undefined,
        () => undefined,
      ),
    );
  }

  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }

  async drain(timeoutMs: number): Promise<void> {
    this.#shuttingDown = true;
    for (const wake of [...this.#wakeUps]) wake();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([this.idle(), timedOut]);
    clearTimeout(timer);
    if (this.#inHand.size) {
      const kinds: Record<string, number> = {};
      for (const kind of this.#inHand.values()) kinds[kind] = (kinds[kind] ?? 0) + 1;
      this.#log.error({ undelivered: kinds }, 'shutting down with mail undelivered; it is lost');
    }
  }

  state(): 'ok' | 'failing' {
    return this.#failing ? 'failing' : 'ok';
  }

  // Work starts after this turn of the event loop: the response goes out first, and composing a
  // message adds nothing to it (which would tell a known address from an unknown one by timing).
  #enqueue(work: () => Promise<void>): void {
    const job: Promise<void> = new Promise((resolve) => setImmediate(resolve))
      .then(work)
      .finally(() => this.#pending.delete(job));
    this.#pending.add(job);
  }

  async #attempt(message: MailMessage): Promise<void> {
    const id = Symbol(message.kind);
    this.#inHand.set(id, message.kind);
    try {
      for (let tries = 0; ; tries += 1) {
        try {
          const where = await this.#deliver(message);
          this.#failing = false;
          this.#onOutcome(message.kind, 'sent');
          const deliveredTo = where === 'smtp' ? 'smtp' : 'outbox';
          this.#log.info(
            { mailKind: message.kind, deliveredTo, file: where === 'smtp' ? undefined : where },
            'mail sent',
          );
          return;
        } catch (error) {
          if (!(await this.#retryAfter(message, error as Error, tries))) return;
        }
      }
    } finally {
      this.#inHand.delete(id);
    }
  }

  /** After a failed try: false when it was the last, else waits out the back-off (less if shutdown begins). */
  async #retryAfter(message: MailMessage, error: Error, tries: number): Promise<boolean> {
    this.#failing = true;
    const delay = this.#retryDelays[tries];
    this.#onOutcome(message.kind, delay === undefined ? 'failed' : 'retried');
    if (delay === undefined) {
      const fields = { mailKind: message.kind, errMessage: error.message, tries: tries + 1 };
      this.#log.error(fields, 'mail could not be delivered; giving up');
      return false;
    }
    const retryInMs = this.#shuttingDown ? 0 : delay;
    this.#log.warn(
      { mailKind: message.kind, errMessage: error.message, retryInMs },
      'mail delivery failed; will retry',
    );
    if (this.#shuttingDown) return true;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakeUps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, delay);
      timer.unref();
      this.#wakeUps.add(wake);
    });
    return true;
  }
}

/** What became of a message: queued, sent, retried after a failure, or failed (given up on). */
export type MailOutcome = 'queued' | 'sent' | 'retried' | 'failed';

export function createMailer(
  settings: MailSettings,
  log: Logger,
  options: { retryDelaysMs?: number[]; onOutcome?: (kind: string, outcome: MailOutcome) => void } = {},
): Mailer {
  return new QueuedMailer(settings, log, options.retryDelaysMs ?? RETRY_DELAYS_MS, options.onOutcome ?? (() => {}));
}
