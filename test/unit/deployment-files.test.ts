import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, SECRET_VARIABLES, loadConfig } from '../../src/shared/config/config.ts';

const root = path.resolve(import.meta.dirname, '../..');

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  secrets?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, ComposeService>;
  secrets: Record<string, { file: string }>;
};

describe('docker-compose.yml', () => {
  it('defines PostgreSQL, Redis, Mailpit, the issuer and the task API, each with a health check', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['issuer', 'mailpit', 'postgres', 'redis', 'task-api']);
    for (const [name, service] of Object.entries(compose.services))
      assert.ok(service.healthcheck?.test.length, `${name} has a health check`);
  });

  it('runs each process from its own entry point on its configured port', () => {
    const preload = ['--import', './src/shared/observability/tracing.ts'];
    assert.deepEqual(compose.services.issuer?.command, ['node', ...preload, 'src/issuer/main.ts']);
    assert.deepEqual(compose.services['task-api']?.command, ['node', ...preload, 'src/resource-server/main.ts']);
    assert.deepEqual(compose.services.issuer?.ports, ['3000:3000']);
    assert.deepEqual(compose.services['task-api']?.ports, ['4000:4000']);
    assert.match(compose.services.issuer?.healthcheck?.test.join(' ') ?? '', /127\.0\.0\.1:3000\/readyz/);
    assert.match(compose.services['task-api']?.healthcheck?.test.join(' ') ?? '', /127\.0\.0\.1:4000\/readyz/);
  });

  it('sets only variables the configuration module knows, and a valid production configuration', () => {
    for (const name of ['issuer', 'task-api']) {
      const environment = compose.services[name]?.environment ?? {};
      for (const variable of Object.keys(environment))
        assert.ok(CONFIG_VARIABLES.includes(variable), `${name}: ${variable} is not a Latchkey variable`);
      // Secrets arrive as files; substitute readable stand-ins for the mounted paths.
      const resolved = Object.fromEntries(
        Object.entries(environment).map(([key, value]) => [key, key.endsWith('_FILE') ? '/dev/null' : value]),
      );
      const withSecrets = {
        ...resolved,
        DATABASE_URL_FILE: undefined,
        DATABASE_URL: 'postgresql://latchkey@postgres/latchkey',
        KEY_ENCRYPTION_KEY_FILE: undefined,
        KEY_ENCRYPTION_KEY: 'ab'.repeat(32),
        ...(resolved.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_FILE
          ? {
              LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD_FILE: undefined,
              LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: 'a long passphrase',
            }
          : {}),
      };
      assert.equal(loadConfig(withSecrets).env, 'production');
    }
  });

  it('passes secrets as files, never as values', () => {
    for (const name of ['issuer', 'task-api']) {
      const environment = compose.services[name]?.environment ?? {};
      for (const secret of SECRET_VARIABLES) {
        const value = environment[secret];
        // A URL without credentials (redis://redis:6379, smtp://mailpit:1025) is not a secret.
        if (value !== undefined)
          assert.ok(
            !new URL(value).password && !new URL(value).username,
            `${name}: ${secret} carries credentials inline`,
          );
      }
      for (const [key, value] of Object.entries(environment).filter(([key]) => key.endsWith('_FILE'))) {
        assert.match(value, /^\/run\/secrets\//, `${name}: ${key}`);
      }
    }
    assert.equal(compose.services.postgres?.environment?.POSTGRES_PASSWORD_FILE, '/run/secrets/postgres_password');
    for (const secret of Object.values(compose.secrets)) assert.match(secret.file, /^\.\/secrets\//);
  });

  it('starts the processes only once their dependencies are healthy', () => {
    assert.deepEqual(Object.keys(compose.services.issuer?.depends_on ?? {}).sort(), ['mailpit', 'postgres', 'redis']);
    for (const dependency of Object.values(compose.services.issuer?.depends_on ?? {}))
      assert.equal(dependency.condition, 'service_healthy');
  });
});

describe('.env.example', () => {
  const text = readFileSync(path.join(root, '.env.example'), 'utf8');
  const listed = [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]);

  it('lists every variable the configuration module reads, each with a comment above it', () => {
    const lines = text.split('\n');
    for (const variable of CONFIG_VARIABLES.filter((name) => !name.endsWith('_FILE'))) {
      const index = lines.findIndex((line) => line.startsWith(`${variable}=`));
      assert.ok(index > 0, `${variable} is missing`);
      assert.ok(
        lines
          .slice(0, index)
          .reverse()
          .find((line) => line !== '' && !/^[A-Z]/.test(line))
          ?.startsWith('#'),
        `${variable} has a comment`,
      );
    }
  });

  it('lists nothing the configuration module does not read', () => {
    for (const variable of listed)
      assert.ok(CONFIG_VARIABLES.includes(variable!), `${variable} is not read by Latchkey`);
  });
});

describe('migration scripts', () => {
  it('hold no semicolon in a comment (Prisma’s engine splits a script at every one, comments included)', () => {
    const directories = ['prisma/migrations', 'prisma/tasks/migrations'].map((dir) => path.join(root, dir));
    for (const directory of directories.filter((dir) => existsSync(dir)))
      for (const migration of readdirSync(directory).filter((name) => /^\d{14}_/.test(name))) {
        const script = readFileSync(path.join(directory, migration, 'migration.sql'), 'utf8');
        const commented = script.split('\n').filter((line) => /--.*;/.test(line));
        assert.deepEqual(commented, [], migration);
      }
  });
});

describe('the image and its build context', () => {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8').split('\n');
  const instructions = dockerfile.filter((line) => /^[A-Z]+ /.test(line));
  const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'));

  it('installs without development packages and runs as a non-root user', () => {
    const install = instructions.find((line) => line.startsWith('RUN npm ci'));
    assert.match(install ?? '', /--omit=dev/);
    const user = instructions.findLastIndex((line) => line.startsWith('USER '));
    assert.ok(user > 0 && !/^USER (root|0)\b/.test(instructions[user]!), 'a USER other than root');
    assert.ok(
      instructions.slice(user + 1).every((line) => !/^(RUN|COPY|ADD) /.test(line)),
      'nothing is installed or copied after switching user',
    );
    assert.match(
      instructions.at(-1) ?? '',
      /^CMD \["node", "--import", "\.\/src\/shared\/observability\/tracing\.ts", "src\/issuer\/main\.ts"\]/,
    );
  });

  it('keeps installed packages, the data folder (its generated key), secrets and local settings out of the build context', () => {
    for (const entry of ['node_modules', '.data', 'secrets', '.env', '.git', 'test-results'])
      assert.ok(ignored.includes(entry), `${entry} is in .dockerignore`);
  });

  it('is under a licence anyone may adopt: Apache-2.0, with its text', () => {
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { license: string };
    assert.equal(manifest.license, 'Apache-2.0');
    assert.match(readFileSync(path.join(root, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004/);
  });
});
