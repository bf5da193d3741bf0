import { mkdir } from 'node:fs/promises';
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import type { DatabaseTarget } from '../config/config.ts';
import type { Logger } from '../logging/logger.ts';
import { acquireDirectoryLock } from './directory-lock.ts';

/** What every generated Prisma client has in common, so this module serves the issuer's and the task API's. */
export interface PrismaLike {
  $queryRawUnsafe(query: string): Promise<unknown>;
  $disconnect(): Promise<void>;
}

export interface Database<Client extends PrismaLike> {
  client: Client;
  target: DatabaseTarget;
  /** The factory the schema engine migrates through; it shares the client's connections. */
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** For connections outside Prisma: advisory locks. Present only on PostgreSQL. */
  pool: pg.Pool | undefined;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type ClientFactory<Client> = (adapter: SqlMigrationAwareDriverAdapterFactory) => Client;

/** Where the database is, in words a log reader can use, without the password. */
export function describeTarget(target: DatabaseTarget): string {
  if (target.kind === 'pglite') return `embedded PGlite in ${target.dataDir}`;
  const url = new URL(target.url);
  return `PostgreSQL at ${url.hostname}:${url.port || '5432'}${url.pathname}${target.schema ? ` (schema ${target.schema})` : ''}`;
}

export async function openDatabase<Client extends PrismaLike>(
  target: DatabaseTarget,
  createClient: ClientFactory<Client>,
  log: Logger,
): Promise<Database<Client>> {
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: target.poolSize,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      // Unqualified names (migrations, raw SQL) resolve in our schema first.
      ...(target.schema ? { options: `-c search_path=${target.schema}` } : {}),
    });
    // An idle connection that dies (database restart, network) must not crash the process; the pool replaces it.
    pool.on('error', (error) =>
      log.warn({ errMessage: error.message }, 'database connection lost; it will be re-established'),
    );
    const adapterFactory = new PrismaPg(pool, target.schema ? { schema: target.schema } : undefined);
    const client = createClient(adapterFactory);
    return {
      client,
      target,
      adapterFactory,
      pool,
      ping: async () => {
        await client.$queryRawUnsafe('SELECT 1');
      },
      close: async () => {
        await client.$disconnect();
        await pool.end();
      },
    };
  }

  await mkdir(target.dataDir, { recursive: true });
  // PGlite is one process's database: a second process opening the same folder would corrupt it.
  const lock = await acquireDirectoryLock(target.dataDir);
  // Loaded only here: a process on PostgreSQL never holds the embedded database's WebAssembly.
  const [{ PGlite: Embedded }, { PrismaPGlite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('pglite-prisma-adapter'),
  ]);
  let pglite: PGlite;
  try {
    pglite = await Embedded.create(target.dataDir);
  } catch (error) {
    await lock.release();
    throw error;
  }
  const adapterFactory = new PrismaPGlite(pglite);
  const client = createClient(adapterFactory);
  return {
    client,
    target,
    adapterFactory,
    pool: undefined,
    ping: async () => {
      await client.$queryRawUnsafe('SELECT 1');
    },
    close: async () => {
      await client.$disconnect();
      await pglite.close();
      await lock.release();
    },
  };
}
