import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  freshPostgresDatabase,
  REAL_POSTGRES_URL,
  TEST_KEY_ENCRYPTION_KEY,
  temporaryDirectory,
} from '../support/environment.ts';
import { freePort, spawnEntry } from '../support/processes.ts';
import { startSmtpPeer } from '../support/smtp-peer.ts';
import { UserAgent } from '../support/user-agent.ts';

/**
 * Mail survives the process: a message queued while the SMTP server is away is in the database,
 * and after the issuer is killed (SIGKILL, no shutdown at all) the next start delivers it.
 */
describe('mail that survives a crash', () => {
  it('delivers after a restart a message queued just before the issuer was killed with SIGKILL', async () => {
    const dir = await temporaryDirectory();
    const database = REAL_POSTGRES_URL ? await freshPostgresDatabase() : undefined;
    const smtpPort = await freePort();
    const port = await freePort();
    const env = {
      DATA_DIR: dir.path,
      ...(database ? { DATABASE_URL: database.url } : {}),
      KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY,
      ISSUER_PORT: String(port),
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      LOG_FORMAT: 'json',
    };
    const url = `http://localhost:${port}`;
    let smtp: Awaited<ReturnType<typeof startSmtpPeer>> | undefined;
    try {
      const first = spawnEntry('src/issuer/main.ts', env);
      await first.waitForOutput(/issuer listening on/);
      // A sign-up mails the address whatever happens next; nobody answers at the SMTP port yet.
      const agent = new UserAgent();
      await (await agent.request(new URL('/sign-up', url))).text();
      const { response } = await agent.submitForm(
        new URL('/sign-up', url),
        { csrf: agent.formToken(), email: 'survivor@example.com' },
        url,
      );
      assert.equal(response.status, 200);
      await first.waitForOutput(/mail delivery failed; will retry/);
      first.child.kill('SIGKILL');
      await first.exited;

      smtp = await startSmtpPeer(smtpPort);
      const second = spawnEntry('src/issuer/main.ts', env);
      try {
        await second.waitForOutput(/issuer listening on/);
        const mail = await smtp.waitFor((received) => received.to.includes('survivor@example.com'), 20_000);
        assert.ok(mail);
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      await smtp?.close();
      await dir.remove();
      await database?.drop();
    }
  });
});
