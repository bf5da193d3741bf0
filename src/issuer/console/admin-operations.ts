import type { Context } from 'koa';
import { AppError } from '../../shared/http/errors.ts';
import { validate } from '../../shared/http/json-body.ts';
import type { AdminActor } from '../admin/admin-actor.ts';
import { asAdminError } from '../admin/admin-errors.ts';
import type { AdminAccess, AnyAdminRoute } from '../admin/admin-route.ts';

/** What a console page hands an operation: its path parameters, query and body, before validation. */
export interface OperationInput {
  params?: Record<string, string>;
  query?: Record<string, string | string[] | undefined>;
  body?: unknown;
}

/**
 * The admin API's own operations, called in process by the console: each one by its method and
 * path (`post /users/:id/disable`), through the same policy (scope, and a second factor at most 15
 * minutes old for a person's write), the same schemas and the same handler as over HTTP. So no
 * check exists in the console only, and none is missing from it.
 */
export function adminOperations(routes: AnyAdminRoute[], allow: (actor: AdminActor, access: AdminAccess) => void) {
  const byKey = new Map(routes.map((route) => [`${route.method} ${route.path}`, route]));
  return {
    /** Whether the actor may do this operation now (to say so before asking, and to hide what it may not). */
    allowed(key: string, actor: AdminActor): boolean {
      const route = byKey.get(key);
      if (!route) return false;
      try {
        allow(actor, route.access);
        return true;
      } catch {
        return false;
      }
    },

    async run<T = unknown>(key: string, actor: AdminActor, ctx: Context, input: OperationInput = {}): Promise<T> {
      const route = byKey.get(key);
      if (!route) throw new Error(`no admin operation ${key}`);
      allow(actor, route.access);
      const params = route.params ? validate(route.params, input.params ?? {}, 'path') : undefined;
      const query = route.query ? validate(route.query, input.query ?? {}, 'query') : undefined;
      const body = route.body ? validate(route.body, input.body ?? {}, 'body') : undefined;
      const result = await route.handle({ params, query, body, actor, ctx: ctx }).catch((error: unknown) => {
        throw asAdminError(error);
      });
      return (route.response ? route.response.parse(result) : result) as T;
    },
  };
}

export type AdminOperations = ReturnType<typeof adminOperations>;

/** An operation's refusal as the console shows it: the words of the admin API's error envelope. */
export function refusalOf(error: unknown): { status: number; message: string; stepUp: boolean } | undefined {
  if (!(error instanceof AppError)) return undefined;
  const stepUp = error.code === 'insufficient_user_authentication';
  return { status: error.status, message: error.message, stepUp };
}
