import Router from '@koa/router';
import type { Middleware } from 'koa';
import { badRequest } from '../../shared/http/errors.ts';
import { readJson, validate } from '../../shared/http/json-body.ts';
import type { AuthenticatedState, ProtectedResource } from '../../shared/auth/authenticate.ts';
import { authorizeCompletion, authorizeTask, requireCaller } from './authorize.ts';
import { presentTask } from './task-presenter.ts';
import type { z } from 'zod';
import { decodeCursor, encodeCursor, type TaskRepository, type TaskRow } from './task-repository.ts';
import {
  AssignBody,
  CreateTaskBody,
  ListQuery,
  TaskId,
  TaskPage,
  type TaskView,
  UpdateTaskBody,
} from './task-schemas.ts';

export interface TaskRouteOptions {
  tasks: TaskRepository;
  resource: ProtectedResource;
  stepUpMaxAgeSeconds: number;
  /** The gate every handler here is behind: rate limits and authentication, in order. */
  gate: Array<Middleware<AuthenticatedState>>;
}

/** Every handler: gate the caller, load the task, ask the policy, then act. */
export function taskRoutes({
  tasks,
  resource,
  stepUpMaxAgeSeconds,
  gate,
}: TaskRouteOptions): Router<AuthenticatedState> {
  const router = new Router<AuthenticatedState>();
  router.use(...gate);
  const load = async (raw: string | undefined) => (TaskId.safeParse(raw).success ? tasks.findById(raw!) : null);
  // Tasks as they leave, with their assignees' addresses in one query for the whole page.
  const present = async (rows: TaskRow[]) => {
    const emails = await tasks.emailsOf([...new Set(rows.flatMap((row) => row.assigneeSub ?? []))]);
    return rows.map((row) => presentTask(row, emails));
  };
  const presentOne = async (row: TaskRow) => (await present([row]))[0]!;
  const parts: Parts = {
    router,
    tasks,
    resource,
    stepUp: { resource, stepUpMaxAgeSeconds },
    load,
    present,
    presentOne,
  };
  personalRoutes(parts);
  changeRoutes(parts);
  workerRoutes(parts);
  return router;
}

interface Parts {
  router: Router<AuthenticatedState>;
  tasks: TaskRepository;
  resource: ProtectedResource;
  /** What a step-up refusal names: this API, and how recent a second factor must be. */
  stepUp: { resource: ProtectedResource; stepUpMaxAgeSeconds: number };
  /** The task an id in the path names; null for an id that is not one (so it reads as "no such task"). */
  load: (raw: string | undefined) => Promise<TaskRow | null>;
  present: (rows: TaskRow[]) => Promise<TaskView[]>;
  presentOne: (row: TaskRow) => Promise<TaskView>;
}

/** A person's own tasks: create, list, read. */
function personalRoutes({ router, tasks, resource, stepUp, load, present, presentOne }: Parts): void {
  router.post('/tasks', async (ctx) => {
    const actor = requireCaller<'user'>(ctx.state.actor, 'create', resource);
    const body = await readJson(ctx, CreateTaskBody);
    const task = await tasks.create({
      title: body.title,
      description: body.description ?? null,
      dueAt: body.dueAt ? new Date(body.dueAt) : null,
      ownerSub: actor.sub,
    });
    ctx.status = 201;
    ctx.set('Location', `/tasks/${task.id}`);
    ctx.body = await presentOne(task);
  });

  router.get('/tasks/mine', async (ctx) => {
    const actor = requireCaller<'user'>(ctx.state.actor, 'listMine', resource);
    const query = validate(ListQuery, ctx.query, 'query');
    const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
    if (query.cursor && !cursor) throw badRequest('query.cursor is not a cursor this API issued.');
    const rows = await tasks.listFor(actor.sub, query.limit, cursor);
    const page = rows.slice(0, query.limit);
    ctx.body = TaskPage.parse({
      items: await present(page),
      nextCursor: rows.length > query.limit ? encodeCursor(page.at(-1)!) : null,
    });
  });

  router.get('/tasks/:id', async (ctx) => {
    const actor = requireCaller<'user'>(ctx.state.actor, 'read', resource);
    ctx.body = await presentOne(authorizeTask(actor, 'read', await load(ctx.params.id), stepUp));
  });
}

/** Changes to one task: edit, assign, delete. */
function changeRoutes({ router, tasks, resource, stepUp, load, presentOne }: Parts): void {
  router.patch('/tasks/:id', async (ctx) => {
    const actor = requireCaller<'user'>(ctx.state.actor, 'update', resource);
    const task = authorizeTask(actor, 'update', await load(ctx.params.id), stepUp);
    const body = await readJson(ctx, UpdateTaskBody);
    ctx.body = await presentOne(await tasks.update(task.id, changesFrom(body, task)));
  });

  // Assigning names a user of this API (someone who has called it); clearing is open to the assignee too.
  router.put('/tasks/:id/assignee', async (ctx) => {
    const actor = requireCaller<'user'>(ctx.state.actor, 'assign', resource);
    const body = await readJson(ctx, AssignBody);
    const action = body.assignee === null ? 'unassign' : 'assign';
    const task = authorizeTask(actor, action, await load(ctx.params.id), stepUp);
    ctx.body = await presentOne(await tasks.setAssignee(task.id, await assigneeOf(tasks, body)));
  });

  router.delete('/tasks/:id', async (ctx) => {
    const actor = requireCaller<'user'>(ctx.state.actor, 'delete', resource);
    const task = authorizeTask(actor, 'delete', await load(ctx.params.id), stepUp);
    await tasks.delete(task.id);
    ctx.status = 204;
  });
}

/** The worker service's queue: claim the next open task, complete it. */
function workerRoutes({ router, tasks, resource, load, presentOne }: Parts): void {
  router.get('/worker/tasks/next', async (ctx) => {
    const actor = requireCaller<'service'>(ctx.state.actor, 'claim', resource);
    const claimed = await tasks.claimNextOpen(actor.clientId);
    if (!claimed) {
      ctx.status = 204;
      return;
    }
    ctx.body = await presentOne(claimed);
  });

  router.post('/worker/tasks/:id/complete', async (ctx) => {
    const actor = requireCaller<'service'>(ctx.state.actor, 'complete', resource);
    const task = authorizeCompletion(actor, await load(ctx.params.id));
    const completed = task.status === 'done' ? task : await tasks.completeClaimed(task.id, actor.clientId);
    ctx.body = await presentOne(authorizeCompletion(actor, completed ?? null));
  });
}

/** The subject an assignment names, by id or by address; it must be a user of this API (null clears). */
async function assigneeOf(tasks: TaskRepository, body: z.infer<typeof AssignBody>): Promise<string | null> {
  if (body.assigneeEmail !== undefined) {
    const sub = await tasks.userByEmail(body.assigneeEmail.toLowerCase());
    if (!sub)
      throw badRequest(
        'body.assigneeEmail is not the address of a user of this API (they must have signed in to it once).',
        'unknown_assignee',
      );
    return sub;
  }
  const sub = body.assignee ?? null;
  if (sub !== null && !(await tasks.isUser(sub)))
    throw badRequest('body.assignee is not a user of this API.', 'unknown_assignee');
  return sub;
}

/** A PATCH body as the repository's changes; completing stamps `completedAt` once, reopening clears it. */
function changesFrom(body: z.infer<typeof UpdateTaskBody>, task: TaskRow) {
  const completedAt =
    body.status === undefined ? undefined : body.status === 'done' ? (task.completedAt ?? new Date()) : null;
  return {
    ...(body.title !== undefined ? { title: body.title } : {}),
    ...(body.description !== undefined ? { description: body.description } : {}),
    ...(body.status !== undefined ? { status: body.status } : {}),
    ...(body.dueAt !== undefined ? { dueAt: body.dueAt ? new Date(body.dueAt) : null } : {}),
    ...(completedAt !== undefined ? { completedAt } : {}),
  };
}
