import { cpSync, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/shared/config/config.ts';

/** Set in CI (and by anyone who wants the suite on real services); unset, the suite runs on PGlite and the in-process store. */
export const REAL_POSTGRES_URL = process.env.DATABASE_URL || undefined;
export const REAL_REDIS_URL = process.env.REDIS_URL || undefined;

/** Every test process shares the suite's database, and with it the signing keys sealed under this key. */
export const TEST_KEY_ENCRYPTION_KEY = 'a0'.repeat(32);

export const needsPostgres = REAL_POSTGRES_URL ? false : 'needs DATABASE_URL (real PostgreSQL); CI always sets it';
export const needsRedis = REAL_REDIS_URL ? false : 'needs REDIS_URL (real Redis); CI always sets it';

export async function temporaryDirectory(
  prefix = 'latchkey-test-',
): Promise<{ path: string; remove(): Promise<void> }> {
  const directory = await mkdtemp(path.join(tmpdir(), prefix));
  return { path: directory, remove: () => rm(directory, { recursive: true, force: true }) };
}

/**
 * The configuration a test process runs with: the real services when the suite was given them,
 * the embedded defaults in a throwaway data folder otherwise. `overrides` are environment variables.
 */
/** Where the suite's global setup left migrated embedded databases (see database-template.ts). */
export const DATABASE_TEMPLATE_VARIABLE = 'LATCHKEY_TEST_DATABASE_TEMPLATE';

/**
 * An embedded database folder that does not exist yet starts as a copy of the migrated template,
 * when the suite made one; a folder already there (a restart in the same test) is left alone.
 */
function seedEmbeddedDatabases(config: Config): Config {
  const template = process.env[DATABASE_TEMPLATE_VARIABLE];
  if (!template || !existsSync(template)) return config;
  for (const target of [config.issuer.database, config.taskApi.database])
    if (target.kind === 'pglite' && !existsSync(target.dataDir))
      cpSync(path.join(template, path.basename(target.dataDir)), target.dataDir, { recursive: true });
  return config;
}

export function testConfig(dataDir: string, overrides: Record<string, string | undefined> = {}): Config {
  return seedEmbeddedDatabases(
    loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      DATABASE_URL: REAL_POSTGRES_URL,
      REDIS_URL: REAL_REDIS_URL,
      REDIS_KEY_PREFIX: `latchkey-test:${process.pid}:`,
      KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY,
      SHUTDOWN_TIMEOUT_MS: '5000',
      // Tests stop many services; the drain tests set their own delay.
      SHUTDOWN_READINESS_DELAY_MS: '0',
      // Many services start in one test process: each metrics listener on a port of its own.
      ISSUER_METRICS_PORT: '0',
      TASK_API_METRICS_PORT: '0',
      ...overrides,
    }),
  );
}

/** A new, empty PostgreSQL database on the server the suite was given, dropped afterwards. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!REAL_POSTGRES_URL) throw new Error('freshPostgresDatabase needs DATABASE_URL');
  const name = `latchkey_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: REAL_POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(REAL_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const dropper = new pg.Client({ connectionString: REAL_POSTGRES_URL });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await dropper.end();
    },
  };
}
