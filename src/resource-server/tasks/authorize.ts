import { AppError, notFound } from '../../shared/http/errors.ts';
import type { Actor } from '../auth/actor.ts';
import { challenge, unauthorized } from '../auth/authenticate.ts';
import { hasRecentSecondFactor, TASK_POLICY, type TaskAction } from './task-policy.ts';
import type { TaskRow } from './task-repository.ts';

type UserActor = Extract<Actor, { kind: 'user' }>;
type ServiceActor = Extract<Actor, { kind: 'service' }>;

function insufficientScope(audience: string, scope: string): AppError {
  return new AppError(403, 'insufficient_scope', `This needs the ${scope} scope.`, {
    'WWW-Authenticate': challenge(audience, {
      code: 'insufficient_scope',
      description: `This needs the ${scope} scope.`,
      extra: { scope },
    }),
  });
}

/** The route-level gate: the right kind of caller with the right scope, before anything is loaded. */
export function requireCaller<Kind extends 'user' | 'service'>(
  actor: Actor,
  action: TaskAction,
  audience: string,
): Extract<Actor, { kind: Kind }> {
  const rule = TASK_POLICY[action];
  if (actor.kind !== rule.actor) {
    throw new AppError(
      403,
      'forbidden',
      rule.actor === 'user' ? 'This route is for users, not services.' : 'This route is for service accounts only.',
    );
  }
  if (!actor.scopes.has(rule.scope)) throw insufficientScope(audience, rule.scope);
  return actor as Extract<Actor, { kind: Kind }>;
}

/** The object-level check for a user's action on one task; call after loading it, before acting. */
export function authorizeTask(
  actor: UserActor,
  action: 'read' | 'update' | 'assign' | 'unassign' | 'delete',
  task: TaskRow | null,
  options: { audience: string; stepUpMaxAgeSeconds: number },
): TaskRow {
  if (!task || !TASK_POLICY.read.allow(actor, task)) throw notFound('No such task.');
  const rule = TASK_POLICY[action];
  if (!rule.allow(actor, task)) throw new AppError(403, 'forbidden', `You may see this task but not ${action} it.`);
  if ('stepUp' in rule && rule.stepUp && !hasRecentSecondFactor(actor, options.stepUpMaxAgeSeconds)) {
    throw unauthorized(
      options.audience,
      'insufficient_user_authentication',
      'Sign in again with your second factor to do this.',
      'Bearer',
      { max_age: String(options.stepUpMaxAgeSeconds) },
    );
  }
  return task;
}

/** A worker may complete only the task it claimed; any other task does not exist for it. */
export function authorizeCompletion(actor: ServiceActor, task: TaskRow | null): TaskRow {
  if (!task || !TASK_POLICY.complete.allowService(actor, task)) throw notFound('No such task claimed by this worker.');
  return task;
}
