import type { Prisma, PrismaClient, Task, TaskStatus } from '../../shared/database/generated/tasks/client.ts';
import type { PageCursor as Cursor } from '../../shared/database/page-cursor.ts';

export type TaskRow = Task;

export { decodeCursor, encodeCursor } from '../../shared/database/page-cursor.ts';

/** The task API's only door to its table. */
export function taskRepository(db: PrismaClient) {
  return {
    create: (data: { title: string; description: string | null; dueAt: Date | null; ownerSub: string }) =>
      db.task.create({ data }),

    findById: (id: string) => db.task.findUnique({ where: { id } }),

    /** The caller's tasks (owned or assigned), newest first, filtered in the query itself. */
    listFor(sub: string, limit: number, cursor: Cursor | undefined): Promise<TaskRow[]> {
      const mine: Prisma.TaskWhereInput = { OR: [{ ownerSub: sub }, { assigneeSub: sub }] };
      const after: Prisma.TaskWhereInput | undefined = cursor
        ? { OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] }
        : undefined;
      return db.task.findMany({
        where: after ? { AND: [mine, after] } : mine,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
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

    /** Records a user who called the API (once; later calls change nothing). */
    recordUser: async (sub: string) => {
      await db.apiUser.createMany({ data: [{ sub }], skipDuplicates: true });
    },

    isUser: async (sub: string) => (await db.apiUser.count({ where: { sub } })) === 1,

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
