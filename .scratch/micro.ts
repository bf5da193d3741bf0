import { openDatabase } from '../src/shared/database/connection.ts';
import { PrismaClient as TasksClient } from '../src/shared/database/generated/tasks/client.ts';
import pino from 'pino';
const log = pino({ level: 'warn' });
const db = await openDatabase(
  { kind: 'postgres', url: 'postgresql://postgres@127.0.0.1:5432/latchkey_micro', schema: 'tasks', poolSize: 10, variable: 'DATABASE_URL' } as never,
  (adapter) => new TasksClient({ adapter }),
  log as never,
);
const sub = 'user-123';
// seed some tasks
await db.client.task.deleteMany({});
for (let i = 0; i < 10; i++) await db.client.task.create({ data: { title: `t${i}`, ownerSub: sub } });
const SQL = `SELECT id, title, description, status, owner_sub, assignee_sub, due_at, claimed_by, claimed_at, completed_at, created_at, updated_at FROM tasks WHERE owner_sub = $1 OR assignee_sub = $1 ORDER BY created_at DESC, id DESC LIMIT $2`;
const variants: Record<string, () => Promise<unknown>> = {
  prismaFindMany: () => db.client.task.findMany({ where: { OR: [{ ownerSub: sub }, { assigneeSub: sub }] }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: 21 }),
  queryRaw: () => db.client.$queryRaw`SELECT id, title, description, status, owner_sub, assignee_sub, due_at, claimed_by, claimed_at, completed_at, created_at, updated_at FROM tasks WHERE owner_sub = ${sub} OR assignee_sub = ${sub} ORDER BY created_at DESC, id DESC LIMIT ${21}`,
  pgNamed: () => db.pool!.query({ name: 'tasks-mine', text: SQL, values: [sub, 21] }),
  pgUnnamed: () => db.pool!.query(SQL, [sub, 21]),
};
for (const round of [1, 2]) {
  for (const [name, run] of Object.entries(variants)) {
    const N = 3000;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // 8 concurrent
    let left = N;
    await Promise.all(Array.from({ length: 8 }, async () => { while (left-- > 0) await run(); }));
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    console.log(round, name.padEnd(16), `${Math.round(N / (ms / 1000))}/s`, `client CPU ${((cpu.user + cpu.system) / 1000 / N).toFixed(3)} ms/op`);
  }
}
await db.close();
