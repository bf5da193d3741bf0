import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Actor } from '../../src/shared/auth/actor.ts';
import { authorizeCompletion, authorizeTask, requireCaller } from '../../src/resource-server/tasks/authorize.ts';
import type { TaskRow } from '../../src/resource-server/tasks/task-repository.ts';
import { AppError } from '../../src/shared/http/errors.ts';
import { resourceAt } from '../../src/shared/auth/authenticate.ts';

const AUDIENCE = resourceAt('https://api.example.com', 'task-api');
const OPTIONS = { resource: AUDIENCE, stepUpMaxAgeSeconds: 900 };
const now = () => Math.floor(Date.now() / 1000);

type User = Extract<Actor, { kind: 'user' }>;
const user = (sub: string, extra: Partial<User> = {}): User => ({
  kind: 'user',
  sub,
  clientId: 'app',
  roles: new Set(['user']),
  scopes: new Set(['tasks:read', 'tasks:write']),
  authTime: now(),
  amr: ['pwd'],
  ...extra,
});
const admin = (extra: Partial<User> = {}) =>
  user('admin-1', {
    roles: new Set(['admin']),
    scopes: new Set(['tasks:read', 'tasks:write', 'tasks:admin']),
    ...extra,
  });
const task = (extra: Partial<TaskRow> = {}) =>
  ({ id: 't1', ownerSub: 'owner-1', assigneeSub: null, claimedBy: null, status: 'open', ...extra }) as TaskRow;

/** The status an authorization answers with: 200 when allowed, else the AppError's. */
function statusOf(check: () => unknown): number {
  try {
    check();
    return 200;
  } catch (error) {
    assert.ok(error instanceof AppError, String(error));
    return error.status;
  }
}

describe('task policy', () => {
  const cases: Array<[string, User, 'read' | 'update' | 'assign' | 'unassign' | 'delete', TaskRow, number]> = [
    ['the owner reads', user('owner-1'), 'read', task(), 200],
    ['the assignee reads', user('helper'), 'read', task({ assigneeSub: 'helper' }), 200],
    ['a stranger reads: no such task', user('stranger'), 'read', task(), 404],
    ['a stranger updates: no such task, not forbidden', user('stranger'), 'update', task(), 404],
    ['the assignee updates: forbidden', user('helper'), 'update', task({ assigneeSub: 'helper' }), 403],
    ['the assignee assigns: forbidden', user('helper'), 'assign', task({ assigneeSub: 'helper' }), 403],
    ['the assignee clears the assignment', user('helper'), 'unassign', task({ assigneeSub: 'helper' }), 200],
    ['the owner deletes: admins only', user('owner-1'), 'delete', task(), 403],
    ['an admin with a recent second factor deletes', admin({ amr: ['pwd', 'otp'] }), 'delete', task(), 200],
    ['an admin without a second factor: step up', admin(), 'delete', task(), 401],
    [
      'an admin whose second factor is old: step up',
      admin({ amr: ['pwd', 'otp'], authTime: now() - 901 }),
      'delete',
      task(),
      401,
    ],
  ];
  for (const [name, actor, action, row, status] of cases)
    it(`${name} (${status})`, () =>
      assert.equal(
        statusOf(() => authorizeTask(actor, action, row, OPTIONS)),
        status,
      ));

  it('answers a missing task 404 for every action', () => {
    assert.equal(
      statusOf(() => authorizeTask(admin(), 'update', null, OPTIONS)),
      404,
    );
  });

  it('refuses a token without the action’s scope before anything is loaded (403 insufficient_scope)', () => {
    const reader = user('owner-1', { scopes: new Set(['tasks:read']) });
    assert.equal(
      statusOf(() => requireCaller(reader, 'create', AUDIENCE)),
      403,
    );
    assert.equal(
      statusOf(() => requireCaller(reader, 'listMine', AUDIENCE)),
      200,
    );
  });

  it('keeps users off the worker routes and services off the user routes', () => {
    const service: Actor = { kind: 'service', clientId: 'worker', scopes: new Set(['tasks:work', 'tasks:read']) };
    assert.equal(
      statusOf(() => requireCaller(service, 'listMine', AUDIENCE)),
      403,
    );
    assert.equal(
      statusOf(() => requireCaller(user('u', { scopes: new Set(['tasks:work']) }), 'claim', AUDIENCE)),
      403,
    );
    assert.equal(
      statusOf(() => requireCaller(service, 'claim', AUDIENCE)),
      200,
    );
  });

  it('lets a worker complete only the task it claimed', () => {
    const service = { kind: 'service' as const, clientId: 'worker', scopes: new Set(['tasks:work']) };
    assert.equal(
      statusOf(() => authorizeCompletion(service, task({ claimedBy: 'worker' }))),
      200,
    );
    assert.equal(
      statusOf(() => authorizeCompletion(service, task({ claimedBy: 'another-worker' }))),
      404,
    );
  });
});
