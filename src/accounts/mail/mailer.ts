import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../../shared/config/config.ts';
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
  /** Resolves when every queued message has been delivered or given up on (tests, shutdown). */
  idle(): Promise<void>;
}

const RETRY_DELAYS_MS = [1_000, 5_000, 30_000];

/**
 * SMTP when SMTP_URL is set; otherwise each message is written to DATA_DIR/outbox as an .eml file
 * (the embedded demo). Failures are retried with back-off and logged, never surfaced to the user.
 */
export function createMailer(config: Config, log: Logger, options: { retryDelaysMs?: number[] } = {}): Mailer {
  const transport = config.mail.transport;
  const smtp = transport.kind === 'smtp' ? nodemailer.createTransport(transport.url) : undefined;
  const outbox = transport.kind === 'outbox' ? transport.directory : undefined;
  const retryDelays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  const pending = new Set<Promise<void>>();
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true });

  async function deliver(message: MailMessage): Promise<string> {
    const envelope = { from: config.mail.from, to: message.to, subject: message.subject, text: message.text };
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

  async function attempt(message: MailMessage): Promise<void> {
    for (let tries = 0; ; tries += 1) {
      try {
        const where = await deliver(message);
        log.info({ mailKind: message.kind, deliveredTo: where === 'smtp' ? 'smtp' : 'outbox', file: where === 'smtp' ? undefined : where }, 'mail sent');
        return;
      } catch (error) {
        const delay = retryDelays[tries];
        if (delay === undefined) {
          log.error({ mailKind: message.kind, errMessage: (error as Error).message }, 'mail could not be delivered; giving up');
          return;
        }
        log.warn({ mailKind: message.kind, errMessage: (error as Error).message, retryInMs: delay }, 'mail delivery failed; will retry');
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  const compose = (message: MailMessage) =>
    composer.sendMail({ from: config.mail.from, to: message.to, subject: message.subject, text: message.text }).then(
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
  };
}
