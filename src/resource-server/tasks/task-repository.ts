import type pg from 'pg';
import type { PrismaClient, Task, TaskStatus } from '../../shared/database/generated/tasks/client.ts';
import { hotStatements } from '../../shared/database/hot-statements.ts';
import type { PageCursor as Cursor } from '../../shared/database/page-cursor.ts';

export type TaskRow = Task;

export { decodeCursor, encodeCursor } from '../../shared/database/page-cursor.ts';

/**
 * `GET /tasks/mine`, the API's hot read, is SQL written here rather than Prisma's `findMany` (see
 * hotStatements for why and how it runs). The owner and assignee indexes on (…, created_at) serve
 * it; the cursor is the last row's (created_at, id), as in every other list.
 */
const MINE_COLUMNS = `id, title, description, status, owner_sub, assignee_sub, due_at, claimed_by, claimed_at,
  completed_at, created_at, updated_at`;
export const MINE = {
  first: `SELECT ${MINE_COLUMNS} FROM tasks WHERE owner_sub = $1 OR assignee_sub = $1
    ORDER BY created_at DESC, id DESC LIMIT $2`,
  after: `SELECT ${MINE_COLUMNS} FROM tasks WHERE (owner_sub = $1 OR assignee_sub = $1)
    AND (created_at < $3 OR (created_at = $3 AND id < $4::uuid)) ORDER BY created_at DESC, id DESC LIMIT $2`,
};

interface TaskColumns {
  id: string;
  title: string;
  description: string | null;
  status: TaskStatus;
  owner_sub: string;
  assignee_sub: string | null;
  due_at: Date | null;
  claimed_by: string | null;
  claimed_at: Date | null;
  completed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const taskOf = (row: TaskColumns): TaskRow => ({
  id: row.id,
  title: row.title,
  description: row.description,
  status: row.status,
  ownerSub: row.owner_sub,
  assigneeSub: row.assignee_sub,
  dueAt: row.due_at,
  claimedBy: row.claimed_by,
  claimedAt: row.claimed_at,
  completedAt: row.completed_at,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** The task API's only door to its tables; `pool` is PostgreSQL's (absent on the embedded database). */
export function taskRepository(db: PrismaClient, pool?: pg.Pool) {
  const hot = hotStatements(db, pool);
  const select = (name: keyof typeof MINE, values: unknown[]) =>
    hot.rows<TaskColumns>(`tasks-mine-${name}`, MINE[name], values);

  return {
    create: (data: { title: string; description: string | null; dueAt: Date | null; ownerSub: string }) =>
      db.task.create({ data }),

    findById: (id: string) => db.task.findUnique({ where: { id } }),

    /** The caller's tasks (owned or assigned), newest first, filtered in the query itself. */
    async listFor(sub: string, limit: number, cursor: Cursor | undefined): Promise<TaskRow[]> {
      const rows = cursor
        ? await select('after', [sub, limit + 1, cursor.createdAt, cursor.id])
        : await select('first', [sub, limit + 1]);
      return rows.map(taskOf);
    },

    update: (
      id: string,
      data: {
        title?: string;
        description?: string | null;
        status?: TaskStatus;
        dueAt?: Date | null;
        completedAt?: Date | null;
      },
    ) => db.task.update({ where: { id }, data }),

    setAssignee: (id: string, assigneeSub: string | null) => db.task.update({ where: { id }, data: { assigneeSub } }),

    /**
     * Records a user who called the API, with the verified address their token carried. An address
     * held by another subject (an account deleted at the issuer, its address now someone else's)
     * moves to the newer one: the issuer gives an address to one account at a time.
     */
    recordUser: async (sub: string, email: string | undefined) => {
      if (email === undefined) {
        await db.apiUser.createMany({ data: [{ sub }], skipDuplicates: true });
        return;
      }
      await db.$transaction([
        db.apiUser.updateMany({ where: { email, sub: { not: sub } }, data: { email: null } }),
        db.apiUser.upsert({ where: { sub }, create: { sub, email }, update: { email } }),
      ]);
    },

    isUser: async (sub: string) => (await db.apiUser.count({ where: { sub } })) === 1,

    /** The user of this API with a verified address, by that address. */
    userByEmail: async (email: string) =>
      (await db.apiUser.findUnique({ where: { email }, select: { sub: true } }))?.sub,

    /** The addresses of some subjects, for showing who a task is assigned to. */
    async emailsOf(subs: string[]): Promise<Map<string, string>> {
      if (subs.length === 0) return new Map();
      const users = await db.apiUser.findMany({ where: { sub: { in: subs }, email: { not: null } } });
      return new Map(users.map((user) => [user.sub, user.email!]));
    },

    delete: async (id: string) => (await db.task.deleteMany({ where: { id } })).count === 1,

    /**
     * Claims the oldest open task for a worker in one statement: the row lock with SKIP LOCKED means
     * two workers claiming at once get two different tasks, never the same one.
     */
    async claimNextOpen(clientId: string): Promise<TaskRow | undefined> {
      const rows = await db.$queryRaw<Array<{ id: string }>>`
        UPDATE tasks SET status = 'in_progress', claimed_by = ${clientId}, claimed_at = now(), updated_at = now()
        WHERE id = (SELECT id FROM tasks WHERE status = 'open' ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING id`;
      const claimed = rows[0];
      return claimed ? ((await db.task.findUnique({ where: { id: claimed.id } })) ?? undefined) : undefined;
    },

    /** Completes a task only if this worker holds it; false otherwise. */
    async completeClaimed(id: string, clientId: string): Promise<TaskRow | undefined> {
      const { count } = await db.task.updateMany({
        where: { id, claimedBy: clientId, status: 'in_progress' },
        data: { status: 'done', completedAt: new Date() },
      });
      return count === 1 ? ((await db.task.findUnique({ where: { id } })) ?? undefined) : undefined;
    },
  };
}

export type TaskRepository = ReturnType<typeof taskRepository>;
