import { Task, type TaskView } from './task-schemas.ts';
import type { TaskRow } from './task-repository.ts';

/** The one way a task leaves the API: through the response schema, so nothing unlisted leaks. */
export function presentTask(row: TaskRow): TaskView {
  return Task.parse({
    id: row.id,
    title: row.title,
    description: row.description,
    status: row.status,
    owner: row.ownerSub,
    assignee: row.assigneeSub,
    dueAt: row.dueAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    completedAt: row.completedAt?.toISOString() ?? null,
  });
}
