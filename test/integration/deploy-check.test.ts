import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freshPostgresDatabase,
  needsPostgres,
  needsRedis,
  REAL_REDIS_URL,
  TEST_KEY_ENCRYPTION_KEY,
  temporaryDirectory,
} from '../support/environment.ts';
import { startIssuer } from '../support/issuer-harness.ts';
import { spawnEntry } from '../support/processes.ts';
import { startSmtpPeer, type SmtpPeer } from '../support/smtp-peer.ts';

interface Report {
  ready: boolean;
  findings: Array<{ level: string; area: string; message: string }>;
}

/** Runs `latchkey check --deploy --json` with exactly `env`; its exit code and report. */
async function checkDeploy(env: Record<string, string | undefined>) {
  const run = spawnEntry('src/cli/latchkey.ts', env, ['check', '--deploy', '--json']);
  const { code } = await run.exited;
  const line = run
    .output()
    .split('\n')
    .find((text) => text.startsWith('{'));
  assert.ok(line, run.output());
  return { code, report: JSON.parse(line) as Report };
}

describe('latchkey check --deploy', () => {
  it('fails on the embedded defaults, listing each finding', async () => {
    const dataDir = await temporaryDirectory();
    try {
      const { code, report } = await checkDeploy({ DATA_DIR: dataDir.path });
      assert.equal(code, 1);
      assert.equal(report.ready, false);
      const failed = new Set(report.findings.filter((f) => f.level === 'error').map((f) => f.area));
      assert.deepEqual([...failed].sort(), ['database', 'keys', 'mail', 'redis', 'runtime', 'urls']);
    } finally {
      await dataDir.remove();
    }
  });

  describe('on a production-like deployment', { skip: needsPostgres || needsRedis }, () => {
    let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
    let smtp: SmtpPeer;
    let secrets: Awaited<ReturnType<typeof temporaryDirectory>>;
    let production: Record<string, string | undefined>;

    before(async () => {
      database = await freshPostgresDatabase();
      smtp = await startSmtpPeer();
      secrets = await temporaryDirectory('latchkey-secrets-');
      const keyFile = path.join(secrets.path, 'key-encryption-key');
      await writeFile(keyFile, TEST_KEY_ENCRYPTION_KEY, { mode: 0o600 });
      // A first start migrates the database and makes the keys; an administrator enrols TOTP.
      const issuer = await startIssuer({ DATABASE_URL: database.url });
      await issuer.createUser({ role: 'admin', totp: true, email: 'root@example.com' });
      await issuer.stop();
      // The task API's schema, as a deploy would: `latchkey migrate` before the first start.
      const migrate = spawnEntry('src/cli/latchkey.ts', { DATABASE_URL: database.url, DATA_DIR: secrets.path }, [
        'migrate',
      ]);
      assert.equal((await migrate.exited).code, 0, migrate.output());
      production = {
        NODE_ENV: 'production',
        DATA_DIR: secrets.path,
        DATABASE_URL: database.url,
        REDIS_URL: REAL_REDIS_URL,
        SMTP_URL: smtp.url,
        KEY_ENCRYPTION_KEY_FILE: keyFile,
        ISSUER_URL: 'https://id.example.com',
        TASK_API_URL: 'https://tasks.example.com',
        TRUST_PROXY: '1',
      };
    });
    after(async () => {
      await smtp?.close();
      await secrets?.remove();
      await database?.drop();
    });

    it('passes: no error-level finding, exit 0', async () => {
      const { code, report } = await checkDeploy(production);
      const errors = report.findings.filter((f) => f.level === 'error');
      assert.deepEqual(errors, []);
      assert.equal(code, 0);
      assert.equal(report.ready, true);
      const passed = new Set(report.findings.filter((f) => f.level === 'ok').map((f) => f.area));
      for (const area of ['runtime', 'urls', 'proxy', 'keys', 'database', 'mail', 'administrators', 'clients'])
        assert.ok(passed.has(area), `${area} passed: ${JSON.stringify(report.findings)}`);
    });

    it('fails when a TLS proxy is in front but not trusted, or the SMTP server does not answer', async () => {
      const { code, report } = await checkDeploy({
        ...production,
        TRUST_PROXY: 'false',
        SMTP_URL: 'smtp://127.0.0.1:9',
      });
      assert.equal(code, 1);
      const failed = report.findings.filter((f) => f.level === 'error').map((f) => f.area);
      assert.deepEqual(failed.sort(), ['mail', 'proxy']);
    });
  });
});
