import { z } from 'zod';

/**
 * Every shape the task API accepts or returns. Request bodies are strict: a field we do not know
 * (`owner`, `role`, `userId`...) is a 400, never silently ignored. Responses are parsed through
 * these schemas too, so no column reaches a client unless it is listed here.
 */
const title = z.string().trim().min(1).max(200);
const description = z.string().max(5_000).nullable();
/** Dates PostgreSQL and every client can hold without surprise: from 1970 to the end of year 9999. */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(10_000, 0, 1) - 1;
const isStorableDate = (date: Date) =>
  !Number.isNaN(date.getTime()) && date.getTime() >= EARLIEST && date.getTime() <= LATEST;
const dueAt = z.iso
  .datetime({ offset: true })
  .refine((value) => isStorableDate(new Date(value)), 'must be a date from 1970 to 9999')
  .nullable();
export const TASK_STATUSES = ['open', 'in_progress', 'done'] as const;

export const TaskId = z.uuid();

export const CreateTaskBody = z.strictObject({ title, description: description.optional(), dueAt: dueAt.optional() });

export const UpdateTaskBody = z
  .strictObject({
    title: title.optional(),
    description: description.optional(),
    status: z.enum(TASK_STATUSES).optional(),
    dueAt: dueAt.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'name at least one field to change');

export const AssignBody = z
  .strictObject({
    /** The `sub` of a user of this API to assign (user subjects are UUIDs; services cannot be assigned), or null to clear. */
    assignee: z.uuid().nullable().optional(),
    /** Or the verified address of a user of this API (someone who has used it with the `email` scope). */
    assigneeEmail: z.email().max(320).optional(),
  })
  .refine((body) => (body.assignee !== undefined) !== (body.assigneeEmail !== undefined), {
    message: 'give either assignee or assigneeEmail',
  });

export const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,200}$/)
    .optional(),
});

export const Task = z.object({
  id: z.uuid(),
  title: z.string(),
  description: z.string().nullable(),
  status: z.enum(TASK_STATUSES),
  owner: z.string(),
  assignee: z.string().nullable(),
  /** The assignee's address, when the API knows it. */
  assigneeEmail: z.string().nullable(),
  dueAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  completedAt: z.string().nullable(),
});

export const TaskPage = z.object({ items: z.array(Task), nextCursor: z.string().nullable() });

export const ErrorEnvelope = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string() }),
});

export type TaskView = z.infer<typeof Task>;
