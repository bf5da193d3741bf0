/**
 * What one `/tasks/mine` read costs in CPU through each data layer, on PostgreSQL: Prisma's
 * `findMany`, the repository's read (a named prepared statement on the pool), the same query as
 * Prisma `$queryRaw`, and `pg` alone. It tells how much of the
 * task API's gap to the verify-only route the data layer explains.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/latchkey_bench node test/benchmark/probe/task-read-cost.ts
 *
 * Needs a database the task API has migrated (the benchmark's `latchkey_bench` after `npm run bench`).
 */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../../../src/shared/database/generated/tasks/client.ts';
import { taskRepository } from '../../../src/resource-server/tasks/task-repository.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  process.stderr.write('set DATABASE_URL to a PostgreSQL database the task API has migrated\n');
  process.exit(1);
}
const SCHEMA = 'tasks';
const CALLS = 3000;
const IN_FLIGHT = 8;

const pool = new pg.Pool({ connectionString: url, max: 4, options: `-c search_path=${SCHEMA}` });
const db = new PrismaClient({ adapter: new PrismaPg(pool, { schema: SCHEMA }) });
const tasks = taskRepository(db, pool);
const sub = '00000000-0000-4000-8000-000000000000';
const SQL = 'SELECT * FROM tasks WHERE owner_sub = $1 OR assignee_sub = $1 ORDER BY created_at DESC, id DESC LIMIT 21';

async function measure(name: string, read: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 300; i += 1) await read();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let done = 0; done < CALLS; done += IN_FLIGHT) await Promise.all(Array.from({ length: IN_FLIGHT }, read));
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - started;
  process.stdout.write(
    `${name.padEnd(20)} ${Math.round((cpu.user + cpu.system) / CALLS)} µs CPU per read, ${Math.round((wallMs * 1000) / CALLS)} µs wall\n`,
  );
}

await measure('Prisma findMany', () =>
  db.task.findMany({
    where: { OR: [{ ownerSub: sub }, { assigneeSub: sub }] },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: 21,
  }),
);
await measure('repository listFor', () => tasks.listFor(sub, 20, undefined));
await measure('Prisma $queryRaw', () => db.$queryRawUnsafe(SQL, sub));
await measure('pg', () => pool.query(SQL, [sub]));
await db.$disconnect();
