import { Task, type TaskView } from './task-schemas.ts';
import type { TaskRow } from './task-repository.ts';

/**
 * The one way a task leaves the API: through the response schema, so nothing unlisted leaks.
 * `emails` holds the addresses of the assignees the caller may see (see `TaskRepository.emailsOf`).
 */
export function presentTask(row: TaskRow, emails: ReadonlyMap<string, string> = new Map()): TaskView {
  return Task.parse({
    id: row.id,
    title: row.title,
    description: row.description,
    status: row.status,
    owner: row.ownerSub,
    assignee: row.assigneeSub,
    assigneeEmail: row.assigneeSub ? (emails.get(row.assigneeSub) ?? null) : null,
    dueAt: row.dueAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    completedAt: row.completedAt?.toISOString() ?? null,
  });
}
