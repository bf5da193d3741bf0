import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  freshPostgresDatabase,
  REAL_POSTGRES_URL,
  REAL_REDIS_URL,
  temporaryDirectory,
} from '../support/environment.ts';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { waitForStatus } from '../support/http.ts';
import { authorizeInBrowser, TEST_PASSWORD } from '../support/issuer-harness.ts';
import { freePort, projectRoot, spawnEntry } from '../support/processes.ts';

describe('processes', () => {
  it('npm start runs the issuer, the task API and the browser app, migrates one new database, creates the demo clients, and stops all on Ctrl-C', async () => {
    const dir = await temporaryDirectory();
    // A new database, so both processes find migrations to apply and start at the same moment.
    const database = REAL_POSTGRES_URL ? await freshPostgresDatabase() : undefined;
    const [issuerPort, apiPort, spaPort] = [await freePort(), await freePort(), await freePort()];
    const all = spawnEntry('src/start-all.ts', {
      NODE_ENV: 'development',
      LOG_FORMAT: 'json',
      DATA_DIR: dir.path,
      ISSUER_PORT: String(issuerPort),
      TASK_API_PORT: String(apiPort),
      SPA_PORT: String(spaPort),
      DATABASE_URL: database?.url,
      REDIS_URL: REAL_REDIS_URL,
    });
    try {
      await waitForStatus(`http://127.0.0.1:${issuerPort}/readyz`, 200, 30_000);
      await waitForStatus(`http://127.0.0.1:${apiPort}/readyz`, 200, 30_000);
      assert.equal((await fetch(`http://127.0.0.1:${issuerPort}/healthz`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status, 200);
      await waitForStatus(`http://127.0.0.1:${spaPort}/healthz`, 200, 30_000);
      assert.match(all.output(), /"msg":"demo clients created"/);
      assert.match(
        all.output(),
        /user create --email you@example\.com --role admin/,
        'the banner says how to make the first admin',
      );
      assert.equal((await stat(path.join(dir.path, 'demo-worker.secret'))).mode & 0o777, 0o600);
      all.child.kill('SIGINT');
      assert.deepEqual(await all.exited, { code: 0, signal: null });
      assert.match(all.output(), /"msg":"issuer stopped"/);
      assert.match(all.output(), /"msg":"task-api stopped"/);
      assert.match(all.output(), /"msg":"spa stopped"/);
    } finally {
      all.child.kill('SIGKILL');
      await dir.remove();
      await database?.drop();
    }
  });

  it('lets latchkey, run beside npm start with no login, create a user, a client and an API, and the user signs in', async () => {
    const dir = await temporaryDirectory();
    const database = REAL_POSTGRES_URL ? await freshPostgresDatabase() : undefined;
    const [issuerPort, apiPort, spaPort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      NODE_ENV: 'development',
      LOG_FORMAT: 'json',
      DATA_DIR: dir.path,
      ISSUER_URL: `http://127.0.0.1:${issuerPort}`,
      ISSUER_PORT: String(issuerPort),
      TASK_API_URL: `http://127.0.0.1:${apiPort}`,
      TASK_API_PORT: String(apiPort),
      SPA_URL: `http://127.0.0.1:${spaPort}`,
      SPA_PORT: String(spaPort),
      DATABASE_URL: database?.url,
      REDIS_URL: REAL_REDIS_URL,
    };
    const all = spawnEntry('src/start-all.ts', env);
    const latchkey = async (args: string[], stdin = '') => {
      const run = spawn(process.execPath, [path.join(projectRoot, 'src/cli/latchkey.ts'), ...args, '--json'], {
        env: { PATH: process.env.PATH, ...env, LATCHKEY_CONFIG_DIR: dir.path },
      });
      let stdout = '';
      let stderr = '';
      run.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      run.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      run.stdin.end(stdin);
      const code = await new Promise((resolve) => run.on('exit', resolve));
      assert.equal(code, 0, `latchkey ${args.join(' ')}: ${stderr}`);
      return JSON.parse(stdout) as Record<string, unknown>;
    };
    try {
      await waitForStatus(`http://127.0.0.1:${issuerPort}/readyz`, 200, 30_000);
      const api = await latchkey([
        'api',
        'create',
        'https://notes.example.com',
        '--name',
        'Notes',
        '--scope',
        'notes:read=Read your notes',
      ]);
      assert.equal(api.identifier, 'https://notes.example.com');
      await latchkey(['role', 'grant', 'user', 'https://notes.example.com', 'notes:read']);
      const app = await latchkey([
        ...['client', 'create', '--name', 'Notes app', '--type', 'spa', '--first-party'],
        ...['--redirect-uri', 'http://127.0.0.1:5999/callback', '--resource', 'https://notes.example.com'],
      ]);
      const user = await latchkey(['user', 'create', '--email', 'ada@example.com', '--verified'], `${TEST_PASSWORD}\n`);
      assert.deepEqual(user.roles, ['user']);
      const issuerUrl = env.ISSUER_URL;
      const config = await client.discovery(new URL(issuerUrl), String(app.id), undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
      const redirect = 'http://127.0.0.1:5999/callback';
      const person = { id: String(user.id), email: 'ada@example.com' };
      const { callbackUrl, verifier, state } = await authorizeInBrowser(issuerUrl, config, person, {
        redirect_uri: redirect,
        scope: 'openid notes:read',
      });
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      assert.equal((decodeJwt(tokens.access_token).aud as string[])[0], 'https://notes.example.com');
      assert.equal(decodeJwt(tokens.access_token).scope, 'notes:read');
    } finally {
      // Ctrl-C, as a person would: npm start stops its three processes (a SIGKILL would orphan them).
      all.child.kill('SIGINT');
      await all.exited;
      await dir.remove();
      await database?.drop();
    }
  });

  it('refuses to start on bad configuration with one line per problem and no stack trace', async () => {
    const issuer = spawnEntry('src/issuer/main.ts', {
      DATABASE_URL: 'mysql://root:hunter2@db/latchkey',
      ISSUER_PORT: 'http',
    });
    const { code } = await issuer.exited;
    assert.equal(code, 1);
    assert.deepEqual(issuer.output().trim().split('\n').sort(), [
      'issuer: configuration error: DATABASE_URL must be a postgres:// or postgresql:// URL',
      'issuer: configuration error: ISSUER_PORT must be a number',
    ]);
    assert.ok(!issuer.output().includes('hunter2'));
  });

  it('says to run latchkey migrate when the database has no schema and MIGRATE_ON_START is false', async () => {
    const dir = await temporaryDirectory();
    const database = REAL_POSTGRES_URL ? await freshPostgresDatabase() : undefined;
    try {
      const issuer = spawnEntry('src/issuer/main.ts', {
        NODE_ENV: 'development',
        DATA_DIR: dir.path,
        ISSUER_PORT: String(await freePort()),
        MIGRATE_ON_START: 'false',
        DATABASE_URL: database?.url,
      });
      assert.equal((await issuer.exited).code, 1);
      assert.match(
        issuer.output(),
        /issuer: could not start: the database has no Latchkey schema: run `latchkey migrate`/,
      );
    } finally {
      await dir.remove();
      await database?.drop();
    }
  });

  it('says which variable to change when its port is taken', async () => {
    const dir = await temporaryDirectory();
    const busy = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => busy.once('listening', resolve));
    try {
      const issuer = spawnEntry('src/issuer/main.ts', {
        NODE_ENV: 'development',
        DATA_DIR: dir.path,
        HOST: '127.0.0.1',
        ISSUER_PORT: String((busy.address() as AddressInfo).port),
      });
      assert.equal((await issuer.exited).code, 1);
      assert.match(
        issuer.output(),
        /issuer: could not start: port \d+ is already in use by another program: set ISSUER_PORT to a free port/,
      );
    } finally {
      busy.close();
      await dir.remove();
    }
  });

  it('says in one line why it cannot start when the database is unreachable', async () => {
    const closedPort = await freePort();
    const api = spawnEntry('src/resource-server/main.ts', {
      NODE_ENV: 'test',
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${closedPort}/latchkey`,
      TASK_API_PORT: String(await freePort()),
    });
    const { code } = await api.exited;
    assert.equal(code, 1);
    const lines = api.output().trim().split('\n');
    assert.equal(lines.length, 1, api.output());
    assert.equal(
      lines[0],
      `task-api: could not start: the PostgreSQL database in DATABASE_URL (127.0.0.1:${closedPort}) cannot be reached (connection refused): start it or correct DATABASE_URL`,
    );
  });

  it('names TASKS_DATABASE_URL when the task API’s own database is the one out of reach', async () => {
    const api = spawnEntry('src/resource-server/main.ts', {
      NODE_ENV: 'test',
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/latchkey',
      TASKS_DATABASE_URL: 'postgresql://postgres@nowhere.invalid/tasks',
      TASK_API_PORT: String(await freePort()),
    });
    assert.equal((await api.exited).code, 1);
    assert.equal(
      api.output().trim(),
      'task-api: could not start: the PostgreSQL database in TASKS_DATABASE_URL (nowhere.invalid:5432) cannot be reached (no such host): start it or correct TASKS_DATABASE_URL',
    );
  });

  it('says in one line, naming REDIS_URL, that Redis is unreachable instead of listening without it', async () => {
    const dir = await temporaryDirectory();
    const closedPort = await freePort();
    try {
      const issuer = spawnEntry('src/issuer/main.ts', {
        NODE_ENV: 'development',
        LOG_LEVEL: 'silent',
        DATA_DIR: dir.path,
        ISSUER_PORT: String(await freePort()),
        REDIS_URL: `redis://127.0.0.1:${closedPort}`,
      });
      assert.equal((await issuer.exited).code, 1);
      assert.equal(
        issuer.output().trim(),
        `issuer: could not start: Redis in REDIS_URL (127.0.0.1:${closedPort}) cannot be reached (connection refused): start it or correct REDIS_URL`,
      );
    } finally {
      await dir.remove();
    }
  });
});
