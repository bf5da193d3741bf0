import type { Middleware } from 'koa';
import type { AuthenticatedState } from '../../shared/auth/authenticate.ts';
import type { TaskRepository } from '../tasks/task-repository.ts';

/** How many recorded subjects each process remembers, so a busy user costs one write, not one per request. */
const REMEMBERED = 10_000;

/**
 * Records each user who calls the API with a verified token, once per subject and address: the
 * API's users are the people a task can be assigned to. Subject and address come from the token alone.
 */
export function recordApiUsers(tasks: Pick<TaskRepository, 'recordUser'>): Middleware<AuthenticatedState> {
  const recorded = new Set<string>();
  return async (ctx, next) => {
    const { actor } = ctx.state;
    const key = actor.kind === 'user' ? `${actor.sub} ${actor.email ?? ''}` : undefined;
    if (actor.kind === 'user' && key && !recorded.has(key)) {
      await tasks.recordUser(actor.sub, actor.email);
      if (recorded.size >= REMEMBERED) recorded.clear();
      recorded.add(key);
    }
    await next();
  };
}
