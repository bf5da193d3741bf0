import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { issuerService } from '../../src/issuer/issuer-service.ts';
import { taskApiService } from '../../src/resource-server/task-api-service.ts';
import { loadConfig, type Config } from '../../src/shared/config/config.ts';
import type { ServiceDefinition } from '../../src/shared/lifecycle/service.ts';
import type { Logger } from '../../src/shared/logging/logger.ts';
import { openDatabase, type PrismaLike } from '../../src/shared/database/connection.ts';
import { migrate } from '../../src/shared/database/migrations.ts';
import { createLogger } from '../../src/shared/logging/logger.ts';
import { DATABASE_TEMPLATE_VARIABLE, TEST_KEY_ENCRYPTION_KEY } from './environment.ts';

/**
 * The suite's global setup (`--test-global-setup`): embedded databases already migrated, made once
 * per set of migrations. Each service a test starts on the embedded defaults would otherwise run
 * PGlite's initdb and every migration in WebAssembly (about 4 s, against 0.3 s on PostgreSQL); a
 * test's data folder starts as a copy of these instead (see testConfig). What a service does at
 * start is unchanged: it still runs its migrations, and finds nothing left to apply.
 */
const services = [issuerService, taskApiService] as const;

async function migrationsFingerprint(): Promise<string> {
  const hash = createHash('sha256');
  for (const service of services) {
    const directory = service.migrationsDirectory;
    for (const entry of (await readdir(directory, { recursive: true })).sort()) {
      const file = path.join(directory, entry);
      if (entry.endsWith('.sql') || entry.endsWith('.toml')) hash.update(entry).update(await readFile(file));
    }
  }
  return hash.digest('base64url').slice(0, 16);
}

async function migrated<Client extends PrismaLike>(
  service: ServiceDefinition<Client>,
  config: Config,
  log: Logger,
): Promise<void> {
  const database = await openDatabase(service.database(config), service.createClient, log);
  try {
    await migrate(database, service.migrationsDirectory, log);
  } finally {
    await database.close();
  }
}

export async function globalSetup(): Promise<void> {
  const template = path.join(tmpdir(), `latchkey-test-template-${await migrationsFingerprint()}`);
  process.env[DATABASE_TEMPLATE_VARIABLE] = template;
  if (existsSync(template)) return;
  // Built beside its final name and renamed into place: a concurrent run never sees half a template.
  const building = `${template}.${process.pid}`;
  await rm(building, { recursive: true, force: true });
  const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: building, KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY });
  const log = createLogger({ level: 'warn', format: 'json', name: 'test-template' });
  await migrated(issuerService, config, log);
  await migrated(taskApiService, config, log);
  await rename(building, template).catch(async () => rm(building, { recursive: true, force: true }));
}
