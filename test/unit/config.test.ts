import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/shared/config/config.ts';
import { temporaryDirectory } from '../support/environment.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  it('runs on the embedded defaults when no DATABASE_URL or REDIS_URL is set', () => {
    const config = loadConfig({});
    assert.equal(config.embedded, true);
    assert.equal(config.issuer.database.kind, 'pglite');
    assert.equal(config.taskApi.database.kind, 'pglite');
    assert.equal(config.cache.kind, 'memory');
    assert.equal(config.issuer.port, 3000);
    assert.equal(config.taskApi.port, 4000);
    assert.equal(config.issuer.url, 'http://localhost:3000');
  });

  it('uses PostgreSQL for both processes, the task API in its own schema, when DATABASE_URL is set', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://app@db:5432/latchkey', REDIS_URL: 'redis://cache:6379' });
    assert.deepEqual(config.issuer.database, {
      kind: 'postgres',
      url: 'postgres://app@db:5432/latchkey',
      variable: 'DATABASE_URL',
      schema: undefined,
      poolSize: 10,
    });
    assert.deepEqual(config.taskApi.database, {
      kind: 'postgres',
      url: 'postgres://app@db:5432/latchkey',
      schema: 'tasks',
      poolSize: 10,
      variable: 'DATABASE_URL',
    });
    assert.equal(config.cache.kind, 'redis');
  });

  it('names a malformed DATABASE_URL without echoing its value', () => {
    const problems = problemsOf({ DATABASE_URL: 'mysql://root:hunter2@db/x' });
    assert.deepEqual(problems, ['DATABASE_URL must be a postgres:// or postgresql:// URL']);
    assert.ok(!problems.join('').includes('hunter2'));
  });

  it('reports every problem, one line each', () => {
    const problems = problemsOf({
      ISSUER_PORT: 'eighty',
      LOG_LEVEL: 'loud',
      REDIS_URL: 'http://x',
      ISSUER_URL: 'http://localhost:3000/?x=1',
    });
    assert.equal(problems.length, 4);
    assert.ok(problems.includes('ISSUER_PORT must be a number'));
    assert.ok(problems.some((p) => p.startsWith('LOG_LEVEL must be one of: fatal, error')));
    assert.ok(problems.includes('REDIS_URL must be a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL'));
    assert.ok(problems.includes('ISSUER_URL must have no query or fragment'));
    for (const problem of problems) assert.ok(!problem.includes('\n'));
  });

  it('names the variable of a URL that is not one, and drops a trailing slash', () => {
    assert.deepEqual(problemsOf({ ISSUER_URL: 'notaurl' }), [
      'ISSUER_URL is not a valid URL (such as https://id.example.com)',
    ]);
    assert.equal(loadConfig({ ISSUER_URL: 'http://localhost:3000/' }).issuer.url, 'http://localhost:3000');
  });

  it('moves each server’s localhost URL with its port unless the URL is set', () => {
    const moved = loadConfig({ ISSUER_PORT: '3100', TASK_API_PORT: '4100', SPA_PORT: '5200' });
    assert.equal(moved.issuer.url, 'http://localhost:3100');
    assert.equal(moved.taskApi.url, 'http://localhost:4100');
    assert.equal(moved.spa.url, 'http://localhost:5200');
    const explicit = loadConfig({ ISSUER_PORT: '3100', ISSUER_URL: 'https://id.example.com' });
    assert.equal(explicit.issuer.url, 'https://id.example.com');
  });

  it('refuses a passkey relying-party id that is not the issuer’s host or a parent domain of it, in one line', () => {
    assert.deepEqual(problemsOf({ ISSUER_URL: 'https://id.example.com', WEBAUTHN_RP_ID: 'other.example' }), [
      "WEBAUTHN_RP_ID must be the issuer's host (id.example.com) or a parent domain of it; passkeys for other.example cannot work on id.example.com",
    ]);
    assert.equal(
      problemsOf({ ISSUER_URL: 'https://id.example.com', WEBAUTHN_RP_ID: 'com' }).length,
      1,
      'not a bare TLD',
    );
    const parent = loadConfig({ ISSUER_URL: 'https://id.example.com', WEBAUTHN_RP_ID: 'Example.com' });
    assert.deepEqual(parent.issuer.webauthn, { rpId: 'example.com', origins: ['https://id.example.com'] });
    assert.deepEqual(loadConfig({ ISSUER_PORT: '3100' }).issuer.webauthn, {
      rpId: 'localhost',
      origins: ['http://localhost:3100'],
    });
  });

  it('refuses a port outside 1-65535', () => {
    assert.deepEqual(problemsOf({ TASK_API_PORT: '70000' }), ['TASK_API_PORT must be at most 65535']);
  });

  it('requires DATABASE_URL and REDIS_URL in production', () => {
    assert.deepEqual(problemsOf({ NODE_ENV: 'production' }), [
      'DATABASE_URL is required when NODE_ENV=production',
      'REDIS_URL is required when NODE_ENV=production',
      'KEY_ENCRYPTION_KEY is required when NODE_ENV=production (generate one with: openssl rand -hex 32)',
      'SMTP_URL is required when NODE_ENV=production (mail would only reach the outbox folder)',
    ]);
  });

  it('refuses an http:// issuer in production unless it is localhost or explicitly allowed', () => {
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgresql://db/latchkey',
      REDIS_URL: 'redis://cache',
      KEY_ENCRYPTION_KEY: 'a0'.repeat(32),
      SMTP_URL: 'smtp://mail',
    };
    assert.deepEqual(problemsOf({ ...production, ISSUER_URL: 'http://id.example.com' }), [
      'ISSUER_URL must be https:// when NODE_ENV=production (passwords, cookies and tokens would cross the network in clear); on a private network only, set ALLOW_HTTP_ISSUER=true',
    ]);
    assert.doesNotThrow(() =>
      loadConfig({ ...production, ISSUER_URL: 'http://id.internal', ALLOW_HTTP_ISSUER: 'true' }),
    );
    assert.doesNotThrow(() => loadConfig({ ...production, ISSUER_URL: 'http://localhost:3000' }));
    assert.doesNotThrow(() => loadConfig({ ...production, ISSUER_URL: 'https://id.example.com' }));
  });

  it('turns a metrics listener off, or on any free port, and refuses anything else', () => {
    assert.equal(loadConfig({ ISSUER_METRICS_PORT: 'off' }).metrics.issuerPort, undefined);
    assert.equal(loadConfig({ TASK_API_METRICS_PORT: '0' }).metrics.taskApiPort, 0);
    assert.equal(loadConfig({}).metrics.issuerPort, 9464);
    assert.deepEqual(problemsOf({ ISSUER_METRICS_PORT: 'on' }), [
      'ISSUER_METRICS_PORT must be a port (0-65535) or off',
    ]);
  });

  it('reads a secret from NAME_FILE', async () => {
    const dir = await temporaryDirectory();
    try {
      const file = path.join(dir.path, 'database-url');
      writeFileSync(file, 'postgresql://app:s3cret@db/latchkey\n');
      const config = loadConfig({ DATABASE_URL_FILE: file });
      assert.equal(
        config.issuer.database.kind === 'postgres' && config.issuer.database.url,
        'postgresql://app:s3cret@db/latchkey',
      );
    } finally {
      await dir.remove();
    }
  });

  it('refuses a secret given both as NAME and NAME_FILE', () => {
    assert.deepEqual(problemsOf({ REDIS_URL: 'redis://a', REDIS_URL_FILE: '/etc/hostname' }), [
      'REDIS_URL and REDIS_URL_FILE are both set; set only one',
    ]);
  });

  it('names an unreadable NAME_FILE', () => {
    assert.deepEqual(problemsOf({ REDIS_URL_FILE: '/nonexistent/redis-url' }), [
      'REDIS_URL_FILE: cannot read /nonexistent/redis-url (ENOENT)',
    ]);
  });

  it('treats an empty variable as unset', () => {
    assert.equal(loadConfig({ DATABASE_URL: '', ISSUER_PORT: '' }).issuer.port, 3000);
  });

  it('logs JSON outside development and readable lines in development', () => {
    assert.equal(loadConfig({}).log.format, 'pretty');
    assert.equal(loadConfig({ NODE_ENV: 'test' }).log.format, 'json');
    assert.equal(loadConfig({ NODE_ENV: 'development', LOG_FORMAT: 'json' }).log.format, 'json');
  });
});
