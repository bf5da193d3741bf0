#!/usr/bin/env node
/**
 * `latchkey`: the administrator's command line, working against the configured database.
 * Every command accepts --json for scripts.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../shared/config/config.ts';
import { exitOnStartupError } from '../shared/config/startup-errors.ts';
import { PrismaClient as IssuerClient } from '../shared/database/generated/issuer/client.ts';
import { PrismaClient as TasksClient } from '../shared/database/generated/tasks/client.ts';
import { describeTarget, openDatabase, type ClientFactory, type PrismaLike } from '../shared/database/connection.ts';
import { migrate, MIGRATIONS } from '../shared/database/migrations.ts';
import type { DatabaseTarget } from '../shared/config/config.ts';
import { createLogger } from '../shared/logging/logger.ts';

const USAGE = `usage: latchkey <command> [--json]

commands:
  migrate      apply pending migrations to the issuer's and the task API's databases
`;

const { positionals, values } = parseArgs({ allowPositionals: true, options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });

function output(json: unknown, text: string): void {
  process.stdout.write(values.json ? `${JSON.stringify(json)}\n` : `${text}\n`);
}

async function migrateOne<Client extends PrismaLike>(target: DatabaseTarget, createClient: ClientFactory<Client>, directory: string): Promise<string[]> {
  const config = loadConfig();
  const log = createLogger({ level: 'warn', format: config.log.format, name: 'latchkey' });
  const database = await openDatabase(target, createClient, log);
  try {
    return await migrate(database, directory, log);
  } finally {
    await database.close();
  }
}

async function main(): Promise<number> {
  const [command] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 1 : 0;
  }
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    exitOnStartupError('latchkey', error);
  }
  switch (command) {
    case 'migrate': {
      const issuer = await migrateOne(config.issuer.database, (adapter) => new IssuerClient({ adapter }), MIGRATIONS.issuer);
      const tasks = await migrateOne(config.taskApi.database, (adapter) => new TasksClient({ adapter }), MIGRATIONS.tasks);
      output(
        { issuer: { database: describeTarget(config.issuer.database), applied: issuer }, tasks: { database: describeTarget(config.taskApi.database), applied: tasks } },
        [
          `issuer (${describeTarget(config.issuer.database)}): ${issuer.length ? `applied ${issuer.join(', ')}` : 'up to date'}`,
          `tasks (${describeTarget(config.taskApi.database)}): ${tasks.length ? `applied ${tasks.join(', ')}` : 'up to date'}`,
        ].join('\n'),
      );
      return 0;
    }
    default:
      process.stderr.write(`latchkey: unknown command "${command}"\n${USAGE}`);
      return 1;
  }
}

// Exit explicitly: Prisma's schema engine leaves a timer behind that would hold the process for 10 s.
try {
  process.exit(await main());
} catch (error) {
  process.stderr.write(`latchkey: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
  process.exit(1);
}
