import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { DatabaseTarget } from '../../src/shared/config/config.ts';
import { openDatabase } from '../../src/shared/database/connection.ts';
import { PrismaClient as IssuerClient } from '../../src/shared/database/generated/issuer/client.ts';
import { PrismaClient as TasksClient } from '../../src/shared/database/generated/tasks/client.ts';
import { migrate, MIGRATIONS, readMigrationList } from '../../src/shared/database/migrations.ts';
import { createLogger } from '../../src/shared/logging/logger.ts';
import { freshPostgresDatabase, needsPostgres, temporaryDirectory } from '../support/environment.ts';

const log = createLogger({ level: 'silent', format: 'json', name: 'test' });
const projectRoot = path.resolve(import.meta.dirname, '../..');

async function migrationNames(directory: string): Promise<string[]> {
  return (await readMigrationList(directory)).migrationDirectories.map((migration) => migration.path);
}

async function appliedNames(target: DatabaseTarget, table = '_prisma_migrations'): Promise<string[]> {
  const database = await openDatabase(target, (adapter) => new IssuerClient({ adapter }), log);
  try {
    const rows = await database.client.$queryRawUnsafe<Array<{ migration_name: string }>>(
      `SELECT migration_name FROM ${table} WHERE finished_at IS NOT NULL ORDER BY migration_name`,
    );
    return rows.map((row) => row.migration_name);
  } finally {
    await database.close();
  }
}

/** Runs `latchkey migrate` as its own process, as an operator or a second instance would. */
function runMigrateCommand(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'src/cli/latchkey.ts'), 'migrate', '--json'], {
      env: { PATH: process.env.PATH, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The issuer's migration history as it was before the migration named `*_<name>`, copied into `dir`. */
async function historyBefore(dir: string, name: string): Promise<string> {
  const before = path.join(dir, `migrations-before-${name}`);
  const all = await readdir(MIGRATIONS.issuer);
  const cut = all.find((entry) => entry.endsWith(`_${name}`)) ?? '';
  await mkdir(before);
  for (const entry of all.filter((entry) => entry < cut))
    await cp(path.join(MIGRATIONS.issuer, entry), path.join(before, entry), { recursive: true });
  await cp(path.join(MIGRATIONS.issuer, 'migration_lock.toml'), path.join(before, 'migration_lock.toml'));
  return before;
}

describe('migrations on PGlite', () => {
  it('apply every migration to a new embedded database, then find nothing left to do', async () => {
    const dir = await temporaryDirectory();
    const target: DatabaseTarget = { kind: 'pglite', dataDir: path.join(dir.path, 'db') };
    try {
      const database = await openDatabase(target, (adapter) => new IssuerClient({ adapter }), log);
      try {
        assert.deepEqual(await migrate(database, MIGRATIONS.issuer, log), await migrationNames(MIGRATIONS.issuer));
        assert.deepEqual(await migrate(database, MIGRATIONS.issuer, log), []);
        await database.client.user.create({ data: { email: 'migrated@example.com' } });
        assert.equal(await database.client.user.count(), 1);
      } finally {
        await database.close();
      }
      assert.deepEqual(await appliedNames(target), await migrationNames(MIGRATIONS.issuer));
    } finally {
      await dir.remove();
    }
  });

  it('turn the resources clients held before APIs were registered into registered APIs with the task API scopes', async () => {
    const dir = await temporaryDirectory();
    const target: DatabaseTarget = { kind: 'pglite', dataDir: path.join(dir.path, 'db') };
    const before = await historyBefore(dir.path, 'apis');
    const database = await openDatabase(target, (adapter) => new IssuerClient({ adapter }), log);
    try {
      await migrate(database, before, log);
      await database.client.$executeRawUnsafe(
        `INSERT INTO clients (id, name, type, redirect_uris, post_logout_redirect_uris, grant_types, scopes, resources, token_endpoint_auth_method, updated_at)
         VALUES ('worker', 'Worker', 'service', '{}', '{}', '{client_credentials}', '{tasks:work}', '{https://tasks.example.com}', 'client_secret_basic', now())`,
      );
      await migrate(database, MIGRATIONS.issuer, log);
      const api = await database.client.api.findUnique({
        where: { identifier: 'https://tasks.example.com' },
        include: { scopes: true },
      });
      assert.equal(api?.name, 'Task API');
      assert.deepEqual(api.scopes.map((scope) => scope.name).sort(), [
        'tasks:admin',
        'tasks:read',
        'tasks:work',
        'tasks:write',
      ]);
      assert.deepEqual((await database.client.client.findUnique({ where: { id: 'worker' } }))?.scopes, ['tasks:work']);
    } finally {
      await database.close();
      await dir.remove();
    }
  });

  it('turn the role column into role rows, every account keeping its role, and leave earlier APIs unlimited by roles', async () => {
    const dir = await temporaryDirectory();
    const target: DatabaseTarget = { kind: 'pglite', dataDir: path.join(dir.path, 'db') };
    const before = await historyBefore(dir.path, 'roles');
    const database = await openDatabase(target, (adapter) => new IssuerClient({ adapter }), log);
    try {
      await migrate(database, before, log);
      await database.client.$executeRawUnsafe(
        `INSERT INTO users (id, email, role, updated_at) VALUES
           ('00000000-0000-4000-8000-000000000001', 'admin@example.com', 'admin', now()),
           ('00000000-0000-4000-8000-000000000002', 'someone@example.com', 'user', now())`,
      );
      await database.client.$executeRawUnsafe(
        `INSERT INTO apis (id, identifier, name, updated_at) VALUES (gen_random_uuid(), 'https://tasks.example.com', 'Task API', now())`,
      );
      await migrate(database, MIGRATIONS.issuer, log);
      const rolesOf = async (email: string) =>
        (
          await database.client.user.findUnique({ where: { email }, include: { roles: { include: { role: true } } } })
        )?.roles.map((held) => held.role.name);
      assert.deepEqual(await rolesOf('admin@example.com'), ['admin']);
      assert.deepEqual(await rolesOf('someone@example.com'), ['user']);
      const defaults = await database.client.role.findMany({ where: { isDefault: true } });
      assert.deepEqual(
        defaults.map((role) => role.name),
        ['user'],
      );
      const api = await database.client.api.findUnique({ where: { identifier: 'https://tasks.example.com' } });
      assert.equal(api?.roleLimited, false, 'an API from before roles keeps giving what it gave');
    } finally {
      await database.close();
      await dir.remove();
    }
  });

  it('serialize two concurrent migrations of one embedded database', async () => {
    const dir = await temporaryDirectory();
    const target: DatabaseTarget = { kind: 'pglite', dataDir: path.join(dir.path, 'db') };
    try {
      const database = await openDatabase(target, (adapter) => new TasksClient({ adapter }), log);
      try {
        const [first, second] = await Promise.all([
          migrate(database, MIGRATIONS.tasks, log),
          migrate(database, MIGRATIONS.tasks, log),
        ]);
        assert.deepEqual([...first, ...second], await migrationNames(MIGRATIONS.tasks));
        const rows = await database.client.$queryRawUnsafe<Array<{ n: number }>>(
          'SELECT count(*)::int AS n FROM _prisma_migrations',
        );
        assert.equal(rows[0]?.n, (await migrationNames(MIGRATIONS.tasks)).length);
      } finally {
        await database.close();
      }
    } finally {
      await dir.remove();
    }
  });

  it('refuse a second process on an embedded database already in use, with a clear message', async () => {
    const dir = await temporaryDirectory();
    const target: DatabaseTarget = { kind: 'pglite', dataDir: path.join(dir.path, 'issuer-db') };
    try {
      const database = await openDatabase(target, (adapter) => new IssuerClient({ adapter }), log);
      try {
        const result = await runMigrateCommand({ DATA_DIR: dir.path });
        assert.equal(result.code, 3);
        assert.equal(
          result.stderr.trim(),
          `latchkey: the embedded database in ${target.dataDir} is in use by process ${process.pid} (a running Latchkey migrates its database itself at start; to change its data while it runs, use latchkey commands other than migrate)`,
        );
      } finally {
        await database.close();
      }
    } finally {
      await dir.remove();
    }
  });
});

describe('migrations on PostgreSQL', { skip: needsPostgres }, () => {
  it('apply both histories to a new database, the task API in its own schema, then find nothing left to do', async () => {
    const db = await freshPostgresDatabase();
    try {
      const first = await runMigrateCommand({ DATABASE_URL: db.url });
      assert.equal(first.code, 0, first.stderr);
      const report = JSON.parse(first.stdout) as { issuer: { applied: string[] }; tasks: { applied: string[] } };
      assert.deepEqual(report.issuer.applied, await migrationNames(MIGRATIONS.issuer));
      assert.deepEqual(report.tasks.applied, await migrationNames(MIGRATIONS.tasks));

      const again = await runMigrateCommand({ DATABASE_URL: db.url });
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(JSON.parse(again.stdout), {
        ...report,
        issuer: { ...report.issuer, applied: [] },
        tasks: { ...report.tasks, applied: [] },
      });

      const target: DatabaseTarget = {
        kind: 'postgres',
        url: db.url,
        schema: undefined,
        poolSize: 2,
        variable: 'DATABASE_URL',
      };
      assert.deepEqual(
        await appliedNames(target, 'public._prisma_migrations'),
        await migrationNames(MIGRATIONS.issuer),
      );
      assert.deepEqual(await appliedNames(target, 'tasks._prisma_migrations'), await migrationNames(MIGRATIONS.tasks));
    } finally {
      await db.drop();
    }
  });

  it('let two processes started together migrate one database without error, each migration applied once', async () => {
    const db = await freshPostgresDatabase();
    try {
      const results = await Promise.all([
        runMigrateCommand({ DATABASE_URL: db.url }),
        runMigrateCommand({ DATABASE_URL: db.url }),
      ]);
      for (const result of results) assert.equal(result.code, 0, result.stderr);
      const reports = results.map((result) => JSON.parse(result.stdout) as { issuer: { applied: string[] } });
      const appliedByEither = reports.flatMap((report) => report.issuer.applied).sort();
      assert.deepEqual(appliedByEither, await migrationNames(MIGRATIONS.issuer));
      const target: DatabaseTarget = {
        kind: 'postgres',
        url: db.url,
        schema: undefined,
        poolSize: 2,
        variable: 'DATABASE_URL',
      };
      assert.deepEqual(
        await appliedNames(target, 'public._prisma_migrations'),
        await migrationNames(MIGRATIONS.issuer),
      );
    } finally {
      await db.drop();
    }
  });
});
