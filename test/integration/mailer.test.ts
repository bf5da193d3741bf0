import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMailer } from '../../src/accounts/mail/mailer.ts';
import { loadConfig } from '../../src/shared/config/config.ts';
import { createLogger } from '../../src/shared/logging/logger.ts';
import { temporaryDirectory } from '../support/environment.ts';
import { captureLog } from '../support/log-capture.ts';
import { mailText, startSmtpPeer } from '../support/smtp-peer.ts';

const message = (to: string) => ({ kind: 'password_reset', to, subject: 'Reset your Latchkey password', text: 'https://id.example.com/reset/a-token-that-must-not-be-logged' });
const outboxFiles = async (directory: string) => (await readdir(directory).catch(() => [] as string[])).filter((name) => name.endsWith('.eml'));

describe('mailer', () => {
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let data: Awaited<ReturnType<typeof temporaryDirectory>>;

  before(async () => {
    smtp = await startSmtpPeer();
    data = await temporaryDirectory();
  });
  after(async () => {
    await smtp.close();
    await data.remove();
  });

  it('delivers a sent message over SMTP, after the caller has returned', async () => {
    const mailer = createMailer(loadConfig({ DATA_DIR: data.path, SMTP_URL: smtp.url }), createLogger({ name: 'test', level: 'info', format: 'json' }, captureLog().stream));
    const before = smtp.messages.length;
    mailer.send(message('known@example.com'));
    assert.equal(smtp.messages.length, before, 'nothing is delivered before the caller gets on with its response');
    await mailer.idle();
    const mail = await smtp.waitFor((received) => received.to.includes('known@example.com'));
    assert.match(mailText(mail), /a-token-that-must-not-be-logged/);
  });

  it('neither delivers nor logs a pretended message', async () => {
    const log = captureLog();
    const mailer = createMailer(loadConfig({ DATA_DIR: data.path, SMTP_URL: smtp.url }), createLogger({ name: 'test', level: 'info', format: 'json' }, log.stream));
    const before = smtp.messages.length;
    mailer.pretendToSend(message('nobody@example.com'));
    await mailer.idle();
    // A real message sent afterwards arrives, so the pretended one would have arrived first had it been sent.
    mailer.send(message('marker@example.com'));
    await mailer.idle();
    await smtp.waitFor((received) => received.to.includes('marker@example.com'));
    assert.deepEqual(smtp.messages.slice(before).map((received) => received.to), [['marker@example.com']]);
    assert.ok(!log.text().includes('nobody@example.com'));
    assert.equal(log.entries().filter((entry) => entry.msg === 'mail sent').length, 1);
  });

  it('writes no outbox file for a pretended message in the embedded mode', async () => {
    const mailer = createMailer(loadConfig({ DATA_DIR: data.path }), createLogger({ name: 'test', level: 'info', format: 'json' }, captureLog().stream));
    const outbox = path.join(data.path, 'outbox');
    const already = (await outboxFiles(outbox)).length;
    mailer.pretendToSend(message('nobody@example.com'));
    await mailer.idle();
    assert.equal((await outboxFiles(outbox)).length, already);
    mailer.send(message('known@example.com'));
    await mailer.idle();
    assert.equal((await outboxFiles(outbox)).length, already + 1);
  });
});
