import { AppError, notFound } from '../../shared/http/errors.ts';
import type { Actor } from '../../shared/auth/actor.ts';
import { insufficientScope, stepUpRequired, type ProtectedResource } from '../../shared/auth/authenticate.ts';
import { hasRecentSecondFactor } from '../../shared/auth/step-up.ts';
import { TASK_POLICY, type TaskAction } from './task-policy.ts';
import type { TaskRow } from './task-repository.ts';

type UserActor = Extract<Actor, { kind: 'user' }>;
type ServiceActor = Extract<Actor, { kind: 'service' }>;

/** The route-level gate: the right kind of caller with the right scope, before anything is loaded. */
export function requireCaller<Kind extends 'user' | 'service'>(
  actor: Actor,
  action: TaskAction,
  resource: ProtectedResource,
): Extract<Actor, { kind: Kind }> {
  const rule = TASK_POLICY[action];
  if (actor.kind !== rule.actor) {
    throw new AppError(
      403,
      'forbidden',
      rule.actor === 'user' ? 'This route is for users, not services.' : 'This route is for service accounts only.',
    );
  }
  if (!actor.scopes.has(rule.scope)) throw insufficientScope(resource, rule.scope);
  return actor as Extract<Actor, { kind: Kind }>;
}

/** The object-level check for a user's action on one task; call after loading it, before acting. */
export function authorizeTask(
  actor: UserActor,
  action: 'read' | 'update' | 'assign' | 'unassign' | 'delete',
  task: TaskRow | null,
  options: { resource: ProtectedResource; stepUpMaxAgeSeconds: number },
): TaskRow {
  if (!task || !TASK_POLICY.read.allow(actor, task)) throw notFound('No such task.');
  const rule = TASK_POLICY[action];
  if (!rule.allow(actor, task)) throw new AppError(403, 'forbidden', `You may see this task but not ${action} it.`);
  if ('stepUp' in rule && rule.stepUp && !hasRecentSecondFactor(actor, options.stepUpMaxAgeSeconds)) {
    throw stepUpRequired(options.resource, options.stepUpMaxAgeSeconds);
  }
  return task;
}

/** A worker may complete only the task it claimed; any other task does not exist for it. */
export function authorizeCompletion(actor: ServiceActor, task: TaskRow | null): TaskRow {
  if (!task || !TASK_POLICY.complete.allowService(actor, task)) throw notFound('No such task claimed by this worker.');
  return task;
}
