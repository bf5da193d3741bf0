import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createMailer as createMailerOn, type MailerOptions, type Mailer } from '../../src/accounts/mail/mailer.ts';
import { loadConfig } from '../../src/shared/config/config.ts';
import { createLogger } from '../../src/shared/logging/logger.ts';
import { temporaryDirectory } from '../support/environment.ts';
import net from 'node:net';
import { captureLog } from '../support/log-capture.ts';
import { freePort } from '../support/processes.ts';
import { isolatedMailDatabase } from '../support/mail-database.ts';
import { mailText, startSmtpPeer } from '../support/smtp-peer.ts';

const message = (to: string) => ({
  kind: 'password_reset',
  to,
  subject: 'Reset your Latchkey password',
  text: 'https://id.example.com/reset/a-token-that-must-not-be-logged',
});
const outboxFiles = async (directory: string) =>
  (await readdir(directory).catch(() => [] as string[])).filter((name) => name.endsWith('.eml'));

describe('mailer', () => {
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let data: Awaited<ReturnType<typeof temporaryDirectory>>;
  let database: Awaited<ReturnType<typeof isolatedMailDatabase>>;
  /** Every mailer a test makes, stopped after it: a running mailer delivers whatever the queue holds. */
  const mailers: Mailer[] = [];
  const createMailer = (
    settings: Parameters<typeof createMailerOn>[0],
    log: Parameters<typeof createMailerOn>[1],
    options: Omit<MailerOptions, 'queue'> = {},
  ) => {
    const mailer = createMailerOn(settings, log, { queue: database.queue, pollMs: 50, ...options });
    mailers.push(mailer);
    return mailer;
  };

  before(async () => {
    smtp = await startSmtpPeer();
    data = await temporaryDirectory();
    database = await isolatedMailDatabase();
  });
  afterEach(async () => {
    await Promise.all(mailers.splice(0).map((mailer) => mailer.drain(1_000)));
    await database.client.queuedMail.deleteMany();
  });
  after(async () => {
    await smtp.close();
    await data.remove();
    await database.close();
  });

  it('delivers a sent message over SMTP, after the caller has returned', async () => {
    const mailer = createMailer(
      loadConfig({ DATA_DIR: data.path, SMTP_URL: smtp.url }).mail,
      createLogger({ name: 'test', level: 'info', format: 'json' }, captureLog().stream),
    );
    const before = smtp.messages.length;
    mailer.send(message('known@example.com'));
    assert.equal(smtp.messages.length, before, 'nothing is delivered before the caller gets on with its response');
    await mailer.idle();
    const mail = await smtp.waitFor((received) => received.to.includes('known@example.com'));
    assert.match(mailText(mail), /a-token-that-must-not-be-logged/);
  });

  it('logs a give-up with the mail kind and never the address or the link, when SMTP refuses every try', async () => {
    const log = captureLog();
    const refused = `smtp://127.0.0.1:${await freePort()}`;
    const mailer = createMailer(
      loadConfig({ DATA_DIR: data.path, SMTP_URL: refused }).mail,
      createLogger({ name: 'test', level: 'info', format: 'json' }, log.stream),
      { retryDelaysMs: [10, 10] },
    );
    mailer.send(message('refused@example.com'));
    await mailer.idle();
    const gaveUp = log.entries().find((entry) => entry.msg === 'mail could not be delivered; giving up');
    assert.equal(gaveUp?.mailKind, 'password_reset');
    assert.equal(gaveUp?.tries, 3);
    assert.doesNotMatch(log.text(), /refused@example\.com|a-token-that-must-not-be-logged/);
    assert.equal(mailer.state(), 'failing');
  });

  it('keeps a message whose delivery failed queued across a restart: the next mailer on the database sends it', async () => {
    const port = await freePort();
    const log = captureLog();
    const settings = loadConfig({ DATA_DIR: data.path, SMTP_URL: `smtp://127.0.0.1:${port}` }).mail;
    const first = createMailer(settings, createLogger({ name: 'test', level: 'info', format: 'json' }, log.stream), {
      retryDelaysMs: [200],
    });
    first.send(message('later@example.com'));
    for (let i = 0; i < 100 && !log.text().includes('will retry'); i += 1)
      await new Promise((resolve) => setTimeout(resolve, 50));
    await first.drain(1_000);
    assert.equal(await database.client.queuedMail.count(), 1, 'still queued after the first mailer stopped');
    const peer = await startSmtpPeer(port);
    try {
      const next = createMailer(settings, createLogger({ name: 'test', level: 'info', format: 'json' }, log.stream));
      await peer.waitFor((received) => received.to.includes('later@example.com'));
      for (let i = 0; i < 40 && (await database.client.queuedMail.count()) > 0; i += 1)
        await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await database.client.queuedMail.count(), 0, 'gone from the queue once delivered');
      assert.equal(next.state(), 'ok');
    } finally {
      await peer.close();
    }
  });

  it('gives what a shutdown leaves in hand back to the queue, and names it by kind, never by address', async () => {
    const log = captureLog();
    // A server that accepts and never greets: delivery hangs past the drain's bound.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const mailer = createMailer(
      loadConfig({ DATA_DIR: data.path, SMTP_URL: `smtp://127.0.0.1:${(silent.address() as net.AddressInfo).port}` })
        .mail,
      createLogger({ name: 'test', level: 'info', format: 'json' }, log.stream),
    );
    try {
      mailer.send(message('stuck@example.com'));
      for (let i = 0; i < 100 && (await database.client.queuedMail.count({ where: { attempts: 1 } })) === 0; i += 1)
        await new Promise((resolve) => setTimeout(resolve, 20));
      await mailer.drain(300);
      const left = log.entries().find((entry) => entry.msg === 'shutting down with mail in hand; it stays queued');
      assert.deepEqual(left?.undelivered, { password_reset: 1 });
      assert.doesNotMatch(log.text(), /stuck@example\.com/);
      const [row] = await database.client.queuedMail.findMany();
      assert.equal(row?.claimedUntil, null, 'given back, not held until the lease passes');
    } finally {
      silent.close();
    }
  });

  it('stores no address, subject or link in the clear while a message waits', async () => {
    const mailer = createMailer(
      loadConfig({ DATA_DIR: data.path, SMTP_URL: `smtp://127.0.0.1:${await freePort()}` }).mail,
      createLogger({ name: 'test', level: 'info', format: 'json' }, captureLog().stream),
      { retryDelaysMs: [60_000] },
    );
    mailer.send(message('private@example.com'));
    for (let i = 0; i < 100 && (await database.client.queuedMail.count()) === 0; i += 1)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const rows = JSON.stringify(
      await database.client.$queryRawUnsafe<unknown[]>('SELECT kind, sealed, last_error FROM mail_queue'),
    );
    assert.match(rows, /password_reset/);
    assert.doesNotMatch(rows, /private@example\.com|Reset your Latchkey password|a-token-that-must-not-be-logged/);
  });

  it('delivers each message once when two mailers share the queue', async () => {
    const settings = loadConfig({ DATA_DIR: data.path, SMTP_URL: smtp.url }).mail;
    const quiet = () => createLogger({ name: 'test', level: 'info', format: 'json' }, captureLog().stream);
    const one = createMailer(settings, quiet());
    const other = createMailer(settings, quiet());
    const before = smtp.messages.length;
    const addresses = Array.from({ length: 20 }, (_, i) => `shared-${i}@example.com`);
    addresses.forEach((address, i) => (i % 2 ? one : other).send(message(address)));
    await Promise.all([one.idle(), other.idle()]);
    await smtp.waitFor(() => smtp.messages.length - before >= addresses.length);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const received = smtp.messages.slice(before).flatMap((mail) => mail.to);
    assert.deepEqual(received.sort(), [...addresses].sort(), 'each address once');
  });

  it('neither delivers nor logs a pretended message', async () => {
    const log = captureLog();
    const mailer = createMailer(
      loadConfig({ DATA_DIR: data.path, SMTP_URL: smtp.url }).mail,
      createLogger({ name: 'test', level: 'info', format: 'json' }, log.stream),
    );
    const before = smtp.messages.length;
    const written = async () =>
      (await database.client.$queryRawUnsafe<Array<{ n: bigint }>>('SELECT last_value AS n FROM mail_queue_id_seq'))[0]!
        .n;
    const rowsBefore = await written();
    mailer.pretendToSend(message('nobody@example.com'));
    await mailer.idle();
    assert.equal(await written(), rowsBefore + 1n, 'as much written as for a real message');
    // A real message sent afterwards arrives, so the pretended one would have arrived first had it been sent.
    mailer.send(message('marker@example.com'));
    await mailer.idle();
    await smtp.waitFor((received) => received.to.includes('marker@example.com'));
    assert.deepEqual(
      smtp.messages.slice(before).map((received) => received.to),
      [['marker@example.com']],
    );
    assert.ok(!log.text().includes('nobody@example.com'));
    const left = await database.client.$queryRawUnsafe<unknown[]>("SELECT id FROM mail_queue WHERE kind = 'decoy'");
    assert.deepEqual(left, [], 'the decoy is claimed and removed like a delivered message');
    assert.equal(log.entries().filter((entry) => entry.msg === 'mail sent').length, 1);
  });

  it('keeps neither the address nor the link in a decoy, even opened, and lets a delivery round claim it', async () => {
    await database.queue.addDecoy(message('nobody@example.com'), 'transport');
    const [claimed] = await database.queue.claim(10, 60, 'transport');
    assert.equal(claimed?.decoy, true);
    assert.equal(claimed.message.to, 'xxxxxx@xxxxxxx.invalid', 'shaped like the address, never deliverable');
    assert.doesNotMatch(JSON.stringify(claimed.message), /nobody|a-token-that-must-not-be-logged/);
  });

  it('writes no outbox file for a pretended message in the embedded mode', async () => {
    const mailer = createMailer(
      loadConfig({ DATA_DIR: data.path }).mail,
      createLogger({ name: 'test', level: 'info', format: 'json' }, captureLog().stream),
    );
    const outbox = path.join(data.path, 'outbox');
    const already = (await outboxFiles(outbox)).length;
    mailer.pretendToSend(message('nobody@example.com'));
    await mailer.idle();
    assert.equal((await outboxFiles(outbox)).length, already);
    mailer.send(message('known@example.com'));
    await mailer.idle();
    assert.equal((await outboxFiles(outbox)).length, already + 1);
  });

  it('writes each outbox message also as plain text, a long link in one piece', async () => {
    const outbox = path.join(data.path, 'outbox-text');
    const settings = loadConfig({ DATA_DIR: data.path }).mail;
    const mailer = createMailer(
      { ...settings, transport: { kind: 'outbox', directory: outbox } },
      createLogger({ name: 'test', level: 'info', format: 'json' }, captureLog().stream),
    );
    const link = `https://id.example.com/verify-email/${'a'.repeat(90)}`;
    mailer.send({
      kind: 'email_verification',
      to: 'new@example.com',
      subject: 'Confirm your address',
      text: `Open ${link}`,
    });
    await mailer.idle();
    const [text] = (await readdir(outbox)).filter((name) => name.endsWith('.txt'));
    const plain = await readFile(path.join(outbox, text!), 'utf8');
    assert.ok(plain.includes(link), plain);
    assert.match(plain, /^To: new@example\.com\nSubject: Confirm your address\n/);
    const [eml] = await outboxFiles(outbox);
    assert.ok(!(await readFile(path.join(outbox, eml!), 'utf8')).includes(link), 'the .eml alone splits it');
  });
});
