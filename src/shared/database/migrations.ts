import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type { Logger } from '../logging/logger.ts';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { Database, PrismaLike } from './connection.ts';

const require = createRequire(import.meta.url);
const projectRoot = path.resolve(import.meta.dirname, '../../..');

/** The two migration histories Latchkey ships: the issuer's and the task API's. */
export const MIGRATIONS = {
  issuer: path.join(projectRoot, 'prisma/migrations'),
  tasks: path.join(projectRoot, 'prisma/tasks/migrations'),
} as const;

type SchemaEngineRuntime = typeof import('@prisma/schema-engine-wasm/schema_engine_bg');
type SchemaEngine = Awaited<ReturnType<SchemaEngineRuntime['SchemaEngine']['new']>>;
type MigrationList = Parameters<SchemaEngine['applyMigrations']>[0]['migrationsList'];

const NO_EXTERNAL_OBJECTS = { externalTables: [], externalEnums: [] };

/**
 * Prisma's schema engine compiled to WebAssembly: the same engine as `prisma migrate deploy`, without
 * the native binary these machines cannot download. Its package entry imports the .wasm as an ES
 * module, which Node refuses, so it is instantiated by hand, once per process: its JavaScript glue
 * is a singleton module, and starting a second instance through it breaks the first.
 */
let schemaEngine: Promise<SchemaEngineRuntime> | undefined;
function loadSchemaEngine(): Promise<SchemaEngineRuntime> {
  schemaEngine ??= instantiateSchemaEngine();
  return schemaEngine;
}

async function instantiateSchemaEngine(): Promise<SchemaEngineRuntime> {
  const runtime = await import('@prisma/schema-engine-wasm/schema_engine_bg');
  const wasmPath = path.join(
    path.dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')),
    'schema_engine_bg.wasm',
  );
  const instance = new WebAssembly.Instance(new WebAssembly.Module(await readFile(wasmPath)), {
    './schema_engine_bg.js': runtime,
  });
  const exports = instance.exports as unknown as { __wbindgen_start(): void };
  (runtime as unknown as { __wbg_set_wasm(exports: unknown): void }).__wbg_set_wasm(exports);
  exports.__wbindgen_start();
  return runtime;
}

export async function readMigrationList(directory: string): Promise<MigrationList> {
  const entries = existsSync(directory) ? await readdir(directory, { withFileTypes: true }) : [];
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const lockPath = path.join(directory, 'migration_lock.toml');
  return {
    baseDir: directory,
    lockfile: { path: 'migration_lock.toml', content: existsSync(lockPath) ? await readFile(lockPath, 'utf8') : null },
    shadowDbInitScript: '',
    migrationDirectories: await Promise.all(
      names.map(async (name) => ({
        path: name,
        migrationFile: {
          path: 'migration.sql',
          content: { tag: 'ok' as const, value: await readFile(path.join(directory, name, 'migration.sql'), 'utf8') },
        },
      })),
    ),
  };
}

async function applyWithSchemaEngine(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  migrations: MigrationList,
): Promise<string[]> {
  const runtime = await loadSchemaEngine();
  const engine = await runtime.SchemaEngine.new(
    { datamodels: undefined },
    () => {},
    bindMigrationAwareSqlAdapterFactory(adapterFactory),
  );
  try {
    const output = await engine.applyMigrations({ migrationsList: migrations, filters: NO_EXTERNAL_OBJECTS });
    return output.appliedMigrationNames;
  } finally {
    engine.free();
  }
}

/** A 64-bit advisory-lock key per schema, so the issuer's and the task API's migrations do not wait on each other. */
function advisoryLockKey(schema: string): string {
  return createHash('sha256').update(`latchkey:migrate:${schema}`).digest().readBigInt64BE(0).toString();
}

/** One in-process queue per embedded database: PGlite has one connection, so advisory locks cannot serialize callers. */
const embeddedQueues = new WeakMap<object, Promise<unknown>>();

/**
 * Applies every pending migration in `directory`, exactly as `prisma migrate deploy` would, recorded
 * in `_prisma_migrations`. On PostgreSQL a session advisory lock makes concurrent start-ups take turns
 * (the engine locks too, but our lock also covers CREATE SCHEMA, which races on its own):
 * the first applies, the others find nothing left to do.
 */
export async function migrate(database: Database<PrismaLike>, directory: string, log: Logger): Promise<string[]> {
  const migrations = await readMigrationList(directory);
  const { target, pool } = database;
  // The usual start-up has nothing to apply: one query instead of starting the schema engine.
  if (await allApplied(database, migrations)) return report([], log);
  if (target.kind === 'pglite' || !pool) {
    const previous = embeddedQueues.get(database) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => applyWithSchemaEngine(database.adapterFactory, migrations));
    embeddedQueues.set(database, run);
    return report(await run, log);
  }
  const schema = target.schema ?? 'public';
  // Its own connection, outside the pool, so a pool of one cannot deadlock the engine against the lock.
  const lockConnection = new pg.Client(pool.options);
  await lockConnection.connect();
  try {
    await lockConnection.query('SELECT pg_advisory_lock($1::bigint)', [advisoryLockKey(schema)]);
    // The engine takes session-level advisory locks of its own; through a shared pool its unlock can
    // land on another connection and leave the lock held for good. One connection, closed after, keeps
    // its session whole.
    const enginePool = new pg.Pool({ ...pool.options, max: 1 });
    try {
      if (target.schema) await lockConnection.query(`CREATE SCHEMA IF NOT EXISTS "${target.schema}"`);
      return report(
        await applyWithSchemaEngine(
          new PrismaPg(enginePool, target.schema ? { schema: target.schema } : undefined),
          migrations,
        ),
        log,
      );
    } finally {
      await enginePool.end();
      await lockConnection.query('SELECT pg_advisory_unlock($1::bigint)', [advisoryLockKey(schema)]);
    }
  } finally {
    await lockConnection.end();
  }
}

async function allApplied(database: Database<PrismaLike>, migrations: MigrationList): Promise<boolean> {
  return (await notApplied(database, migrations)).length === 0;
}

async function notApplied(database: Database<PrismaLike>, migrations: MigrationList): Promise<string[]> {
  const names = migrations.migrationDirectories.map((migration) => migration.path);
  try {
    const rows = (await database.client.$queryRawUnsafe(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    )) as Array<{ migration_name: string }>;
    const applied = new Set(rows.map((row) => row.migration_name));
    return names.filter((name) => !applied.has(name));
  } catch {
    // No history table yet: a new database.
    return names;
  }
}

/** The migrations in `directory` this database has not applied (all of them for a new database); nothing is changed. */
export async function pendingMigrations(database: Database<PrismaLike>, directory: string): Promise<string[]> {
  return notApplied(database, await readMigrationList(directory));
}

function report(applied: string[], log: Logger): string[] {
  if (applied.length > 0) log.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
  else log.debug('database schema is up to date');
  return applied;
}
