import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../../shared/config/config.ts';

/** What the mailer needs of the configuration: the sender and the transport. */
export type MailSettings = Config['mail'];
import type { Logger } from '../../shared/logging/logger.ts';

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
 * SMTP when SMTP_URL is set; otherwise each message is written to DATA_DIR/outbox as an .eml file
 * (the embedded demo). Failures are retried with back-off and logged, never surfaced to the user.
 */
export function createMailer(settings: MailSettings, log: Logger, options: { retryDelaysMs?: number[] } = {}): Mailer {
  const transport = settings.transport;
  // Bounded waits: a server that accepts the connection and then says nothing must not hold mail for minutes.
  const smtp =
    transport.kind === 'smtp'
      ? nodemailer.createTransport({
          url: transport.url,
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 20_000,
        })
      : undefined;
  const outbox = transport.kind === 'outbox' ? transport.directory : undefined;
  const retryDelays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  const pending = new Set<Promise<void>>();
  /** The kind of each message not yet delivered nor given up on, to name what a shutdown leaves behind. */
  const inHand = new Map<symbol, string>();
  let failing = false;
  let shuttingDown = false;
  /** Wakes the back-off waits when shutdown starts, so the retries happen now. */
  const wakeUps = new Set<() => void>();
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true });

  async function deliver(message: MailMessage): Promise<string> {
    const envelope = { from: settings.from, to: message.to, subject: message.subject, text: message.text };
    if (smtp) {
      await smtp.sendMail(envelope);
      return 'smtp';
    }
    const composed = await composer.sendMail(envelope);
    await mkdir(outbox!, { recursive: true });
    const file = path.join(outbox!, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`);
    await writeFile(file, composed.message as Buffer, { mode: 0o600 });
    return file;
  }

  /** Waits out a back-off, or less if shutdown begins meanwhile. */
  const backOff = (delay: number) =>
    new Promise<void>((resolve) => {
      if (shuttingDown) return resolve();
      const wake = () => {
        clearTimeout(timer);
        wakeUps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, delay);
      timer.unref();
      wakeUps.add(wake);
    });

  async function attempt(message: MailMessage): Promise<void> {
    const id = Symbol(message.kind);
    inHand.set(id, message.kind);
    try {
      for (let tries = 0; ; tries += 1) {
        try {
          const where = await deliver(message);
          failing = false;
          log.info(
            {
              mailKind: message.kind,
              deliveredTo: where === 'smtp' ? 'smtp' : 'outbox',
              file: where === 'smtp' ? undefined : where,
            },
            'mail sent',
          );
          return;
        } catch (error) {
          failing = true;
          const delay = retryDelays[tries];
          if (delay === undefined) {
            log.error(
              { mailKind: message.kind, errMessage: (error as Error).message, tries: tries + 1 },
              'mail could not be delivered; giving up',
            );
            return;
          }
          log.warn(
            { mailKind: message.kind, errMessage: (error as Error).message, retryInMs: shuttingDown ? 0 : delay },
            'mail delivery failed; will retry',
          );
          await backOff(delay);
        }
      }
    } finally {
      inHand.delete(id);
    }
  }

  const compose = (message: MailMessage) =>
    composer.sendMail({ from: settings.from, to: message.to, subject: message.subject, text: message.text }).then(
      () => undefined,
      () => undefined,
    );

  // Work starts after this turn of the event loop: the response goes out first, and composing a
  // message adds nothing to it (which would tell a known address from an unknown one by timing).
  function enqueue(work: () => Promise<void>): void {
    const job: Promise<void> = new Promise((resolve) => setImmediate(resolve))
      .then(work)
      .finally(() => pending.delete(job));
    pending.add(job);
  }

  return {
    send: (message) => enqueue(() => attempt(message)),
    pretendToSend: (message) => enqueue(() => compose(message)),
    async idle() {
      while (pending.size) await Promise.all([...pending]);
    },
    async drain(timeoutMs) {
      shuttingDown = true;
      for (const wake of [...wakeUps]) wake();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([this.idle(), timedOut]);
      clearTimeout(timer);
      if (inHand.size) {
        const kinds: Record<string, number> = {};
        for (const kind of inHand.values()) kinds[kind] = (kinds[kind] ?? 0) + 1;
        log.error({ undelivered: kinds }, 'shutting down with mail undelivered; it is lost');
      }
    },
    state: () => (failing ? 'failing' : 'ok'),
  };
}
