import { TASK_SCOPES } from './task-scopes.ts';
import type { Actor } from '../../shared/auth/actor.ts';
import type { TaskRow } from './task-repository.ts';

type UserActor = Extract<Actor, { kind: 'user' }>;
type ServiceActor = Extract<Actor, { kind: 'service' }>;

const isAdmin = (actor: UserActor) => actor.roles.has('admin');
const owns = (actor: UserActor, task: TaskRow) => task.ownerSub === actor.sub;
const isAssigned = (actor: UserActor, task: TaskRow) => task.assigneeSub === actor.sub;

/**
 * Who may do what, in one table. Each action names the scope the token must carry, the kind of
 * caller, and (for actions on one task) who may do it to which task. Whoever may not `read` a task
 * is told it does not exist (404); whoever may read it but not do this gets 403.
 */
export const TASK_POLICY = {
  create: { scope: TASK_SCOPES.write, actor: 'user' },
  listMine: { scope: TASK_SCOPES.read, actor: 'user' },
  read: {
    scope: TASK_SCOPES.read,
    actor: 'user',
    allow: (actor: UserActor, task: TaskRow) => owns(actor, task) || isAssigned(actor, task) || isAdmin(actor),
  },
  update: {
    scope: TASK_SCOPES.write,
    actor: 'user',
    allow: (actor: UserActor, task: TaskRow) => owns(actor, task) || isAdmin(actor),
  },
  assign: {
    scope: TASK_SCOPES.write,
    actor: 'user',
    allow: (actor: UserActor, task: TaskRow) => owns(actor, task) || isAdmin(actor),
  },
  /** Clearing the assignee: also the assignee, who must be able to refuse a task pushed into their list. */
  unassign: {
    scope: TASK_SCOPES.write,
    actor: 'user',
    allow: (actor: UserActor, task: TaskRow) => owns(actor, task) || isAssigned(actor, task) || isAdmin(actor),
  },
  /** Destructive: admins only, and only soon after a sign-in with a second factor. */
  delete: { scope: TASK_SCOPES.admin, actor: 'user', allow: (actor: UserActor) => isAdmin(actor), stepUp: true },
  claim: { scope: TASK_SCOPES.work, actor: 'service' },
  complete: {
    scope: TASK_SCOPES.work,
    actor: 'service',
    allowService: (actor: ServiceActor, task: TaskRow) => task.claimedBy === actor.clientId,
  },
} as const;

export type TaskAction = keyof typeof TASK_POLICY;
