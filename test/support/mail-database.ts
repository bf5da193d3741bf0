import { mailQueue, type MailQueue } from '../../src/accounts/mail/mail-queue.ts';
import { sealer } from '../../src/shared/crypto/sealing.ts';
import { openDatabase } from '../../src/shared/database/connection.ts';
import { PrismaClient } from '../../src/shared/database/generated/issuer/client.ts';
import { MIGRATIONS, migrate } from '../../src/shared/database/migrations.ts';
import { createLogger } from '../../src/shared/logging/logger.ts';
import { freshPostgresDatabase, REAL_POSTGRES_URL, temporaryDirectory } from './environment.ts';
import { captureLog } from './log-capture.ts';

/**
 * An issuer database of its own (a fresh PostgreSQL database when the suite has one, else an
 * embedded PGlite), migrated, for tests of the mail queue: a mailer delivers whatever its table
 * holds, so it must not share one with another mailer.
 */
export async function isolatedMailDatabase(): Promise<{
  queue: MailQueue;
  client: PrismaClient;
  close(): Promise<void>;
}> {
  const log = createLogger({ name: 'test', level: 'warn', format: 'json' }, captureLog().stream);
  const folder = await temporaryDirectory('latchkey-mail-db-');
  const postgres = REAL_POSTGRES_URL ? await freshPostgresDatabase() : undefined;
  const target = postgres
    ? {
        kind: 'postgres' as const,
        url: postgres.url,
        schema: undefined,
        poolSize: 4,
        variable: 'DATABASE_URL' as const,
      }
    : { kind: 'pglite' as const, dataDir: folder.path };
  const database = await openDatabase(target, (adapter) => new PrismaClient({ adapter }), log);
  await migrate(database, MIGRATIONS.issuer, log);
  return {
    queue: mailQueue(database.client, sealer(Buffer.alloc(32, 7))),
    client: database.client,
    close: async () => {
      await database.close();
      await postgres?.drop();
      await folder.remove();
    },
  };
}
