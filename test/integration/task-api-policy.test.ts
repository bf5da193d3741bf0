import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../support/processes.ts';
import { startStack, type Stack } from '../support/task-api-harness.ts';

type Caller = { token: string; sub: string };

/** Who may do what to whose task: every route, every kind of caller, each case its own test. */
describe('task API authorization', () => {
  let stack: Stack;
  let alice: Caller;
  let bob: Caller;
  let readOnly: Caller;
  let admin: Caller;
  let adminSteppedUp: Caller;
  let worker: { token: string; clientId: string };

  before(async () => {
    stack = await startStack();
    [alice, bob, readOnly, admin, adminSteppedUp, worker] = await Promise.all([
      stack.userToken(),
      stack.userToken(),
      stack.userToken({ scopes: 'openid tasks:read' }),
      stack.userToken({ role: 'admin', scopes: 'openid tasks:read tasks:write tasks:admin' }),
      stack.userToken({ role: 'admin', scopes: 'openid tasks:read tasks:write tasks:admin', secondFactor: true }),
      stack.serviceToken(),
    ]);
    // Each person has opened the app once: that makes them users of the API, whom tasks can be assigned to.
    for (const caller of [alice, bob, readOnly, admin, adminSteppedUp])
      assert.equal((await stack.call('GET', '/tasks/mine', caller.token)).status, 200);
  });
  after(() => stack.stop());

  const createTask = async (owner: Caller, title = 'Water the plants') => {
    const response = await stack.call('POST', '/tasks', owner.token, { title });
    assert.equal(response.status, 201);
    return String(response.body.id);
  };

  describe('allowed', () => {
    it('lets a user create a task they own', async () => {
      const response = await stack.call('POST', '/tasks', alice.token, {
        title: 'Buy milk',
        description: 'semi-skimmed',
        dueAt: '2026-12-01T09:00:00Z',
      });
      assert.equal(response.status, 201);
      assert.equal(response.body.owner, alice.sub);
      assert.equal(response.body.status, 'open');
      assert.equal(response.headers.get('location'), `/tasks/${response.body.id}`);
    });

    it("lists the tasks a user owns and is assigned, in pages, and no one else's", async () => {
      const own = await createTask(bob, 'bob 1');
      await createTask(bob, 'bob 2');
      const assigned = await createTask(alice, 'for bob');
      await stack.call('PUT', `/tasks/${assigned}/assignee`, alice.token, { assignee: bob.sub });
      await createTask(alice, 'alice only');
      const first = await stack.call('GET', '/tasks/mine?limit=2', bob.token);
      assert.equal(first.status, 200);
      assert.equal(first.body.items!.length, 2);
      const second = await stack.call('GET', `/tasks/mine?limit=2&cursor=${first.body.nextCursor}`, bob.token);
      const titles = [...first.body.items!, ...second.body.items!].map((task) => task.title).sort();
      assert.deepEqual(titles, ['bob 1', 'bob 2', 'for bob']);
      assert.equal(second.body.nextCursor, null);
      assert.ok([...first.body.items!, ...second.body.items!].some((task) => task.id === own));
    });

    it('lets the owner read, update and assign their task', async () => {
      const id = await createTask(alice);
      assert.equal((await stack.call('GET', `/tasks/${id}`, alice.token)).status, 200);
      const updated = await stack.call('PATCH', `/tasks/${id}`, alice.token, { status: 'done', title: 'Watered' });
      assert.equal(updated.status, 200);
      assert.equal(updated.body.status, 'done');
      assert.ok(updated.body.completedAt);
      const assigned = await stack.call('PUT', `/tasks/${id}/assignee`, alice.token, { assignee: bob.sub });
      assert.equal(assigned.body.assignee, bob.sub);
    });

    it('lets the assignee read the task but not change it', async () => {
      const id = await createTask(alice);
      await stack.call('PUT', `/tasks/${id}/assignee`, alice.token, { assignee: bob.sub });
      assert.equal((await stack.call('GET', `/tasks/${id}`, bob.token)).status, 200);
      const update = await stack.call('PATCH', `/tasks/${id}`, bob.token, { title: 'mine now' });
      assert.equal(update.status, 403);
    });

    it("lets an admin read and update anyone's task", async () => {
      const id = await createTask(alice);
      assert.equal((await stack.call('GET', `/tasks/${id}`, admin.token)).status, 200);
      assert.equal((await stack.call('PATCH', `/tasks/${id}`, admin.token, { title: 'checked by admin' })).status, 200);
    });

    it('lets an admin who signed in with a second factor moments ago delete a task', async () => {
      const id = await createTask(alice);
      assert.equal((await stack.call('DELETE', `/tasks/${id}`, adminSteppedUp.token)).status, 204);
      assert.equal((await stack.call('GET', `/tasks/${id}`, adminSteppedUp.token)).status, 404);
    });

    it('serves its OpenAPI description without a token', async () => {
      const response = await stack.call('GET', '/openapi.json');
      assert.equal(response.status, 200);
      assert.equal(response.body.openapi, '3.1.0');
      assert.ok((response.body.paths as Record<string, unknown>)['/tasks/{id}/assignee']);
    });
  });

  describe('assignment by address', () => {
    it("assigns a task by the verified address in the assignee's tokens, and shows that address", async () => {
      const scopes = 'openid email tasks:read tasks:write';
      const [owner, carol] = await Promise.all([stack.userToken({ scopes }), stack.userToken({ scopes })]);
      const claims = JSON.parse(Buffer.from(carol.token.split('.')[1]!, 'base64url').toString()) as { email?: string };
      assert.equal(claims.email, carol.email, 'the access token carries the granted, verified address');
      assert.equal((await stack.call('GET', '/tasks/mine', carol.token)).status, 200);
      const id = await createTask(owner, 'for carol');
      const assigned = await stack.call('PUT', `/tasks/${id}/assignee`, owner.token, {
        assigneeEmail: carol.email.toUpperCase(),
      });
      assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
      assert.equal(assigned.body.assignee, carol.sub);
      assert.equal(assigned.body.assigneeEmail, carol.email);
      const listed = await stack.call('GET', '/tasks/mine', carol.token);
      const items = listed.body.items as Array<{ id: string; assigneeEmail: string | null }>;
      assert.equal(items.find((task) => task.id === id)?.assigneeEmail, carol.email);
    });

    it('leaves the address out of access tokens when the email scope was not granted', async () => {
      const claims = JSON.parse(Buffer.from(alice.token.split('.')[1]!, 'base64url').toString()) as object;
      assert.equal('email' in claims, false);
    });
  });

  describe('refused', () => {
    it("hides another user's task from reading (404)", async () => {
      const id = await createTask(alice);
      const response = await stack.call('GET', `/tasks/${id}`, bob.token);
      assert.equal(response.status, 404);
      assert.equal(response.body.error.code, 'not_found');
    });

    it("hides another user's task from updating (404)", async () => {
      assert.equal(
        (await stack.call('PATCH', `/tasks/${await createTask(alice)}`, bob.token, { title: 'x' })).status,
        404,
      );
    });

    it('attack: refuses to assign a task to someone who is not a user of the API, a service or a made-up id (400)', async () => {
      const id = await createTask(alice, 'spam for someone');
      const stranger = await stack.userToken();
      for (const assignee of [stranger.sub, `client:${worker.clientId}`, crypto.randomUUID(), 'not-a-uuid']) {
        const response = await stack.call('PUT', `/tasks/${id}/assignee`, alice.token, { assignee });
        assert.equal(response.status, 400, assignee);
      }
      assert.equal((await stack.call('GET', `/tasks/${id}`, alice.token)).body.assignee, null);
    });

    it('refuses an assignment by an address no user of the API has shown in a token, or naming two people at once (400)', async () => {
      const id = await createTask(alice, 'for an address');
      const withoutEmailScope = await stack.userToken();
      assert.equal((await stack.call('GET', '/tasks/mine', withoutEmailScope.token)).status, 200);
      for (const body of [
        { assigneeEmail: 'nobody-at-all@example.com' },
        { assigneeEmail: withoutEmailScope.email },
        { assigneeEmail: 'not an address' },
        { assignee: bob.sub, assigneeEmail: withoutEmailScope.email },
        {},
      ]) {
        const response = await stack.call('PUT', `/tasks/${id}/assignee`, alice.token, body);
        assert.equal(response.status, 400, JSON.stringify(body));
      }
      assert.equal((await stack.call('GET', `/tasks/${id}`, alice.token)).body.assignee, null);
    });

    it('lets an assignee remove a task pushed into their list, but not hand it to someone else', async () => {
      const id = await createTask(alice, 'pushed onto bob');
      await stack.call('PUT', `/tasks/${id}/assignee`, alice.token, { assignee: bob.sub });
      assert.equal((await stack.call('PUT', `/tasks/${id}/assignee`, bob.token, { assignee: admin.sub })).status, 403);
      const cleared = await stack.call('PUT', `/tasks/${id}/assignee`, bob.token, { assignee: null });
      assert.equal(cleared.status, 200);
      assert.equal(cleared.body.assignee, null);
      assert.equal((await stack.call('GET', `/tasks/${id}`, bob.token)).status, 404, "gone from bob's view");
    });

    it('attack: a NUL character in any field is a 400, never reaching PostgreSQL', async () => {
      for (const body of [
        { title: 'nul\u0000title' },
        { title: 'ok', description: 'a\u0000b' },
        { title: 'ok', 'k\u0000': 1 },
      ]) {
        const response = await stack.call('POST', '/tasks', alice.token, body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.match(String(response.body.error.message), /NUL/);
      }
      const id = await createTask(alice);
      assert.equal((await stack.call('PATCH', `/tasks/${id}`, alice.token, { title: 'x\u0000' })).status, 400);
    });

    it('attack: a due date outside 1970-9999 (year 0000, year 10000) is a 400', async () => {
      for (const dueAt of [
        '0000-01-01T00:00:00Z',
        '1969-12-31T23:59:59Z',
        '+010000-01-01T00:00:00Z',
        '10000-01-01T00:00:00Z',
      ]) {
        const response = await stack.call('POST', '/tasks', alice.token, { title: 'when?', dueAt });
        assert.equal(response.status, 400, dueAt);
      }
      assert.equal(
        (await stack.call('POST', '/tasks', alice.token, { title: 'edge', dueAt: '9999-12-31T23:59:59Z' })).status,
        201,
      );
    });

    it('attack: a forged list cursor (a non-UUID id, a bad date, a NUL) is a 400', async () => {
      for (const raw of [
        '2026-01-01T00:00:00.000Z|not-a-uuid',
        `2026-13-45|${crypto.randomUUID()}`,
        `2026-01-01T00:00:00.000Z|${crypto.randomUUID()}\u0000`,
        '0000-01-01T00:00:00.000Z|x|y',
      ]) {
        const response = await stack.call(
          'GET',
          `/tasks/mine?cursor=${Buffer.from(raw).toString('base64url')}`,
          alice.token,
        );
        assert.equal(response.status, 400, raw);
      }
      assert.equal((await stack.call('GET', '/tasks/mine?cursor=%00', alice.token)).status, 400);
    });

    it("hides another user's task from assigning (404)", async () => {
      assert.equal(
        (await stack.call('PUT', `/tasks/${await createTask(alice)}/assignee`, bob.token, { assignee: bob.sub }))
          .status,
        404,
      );
    });

    it('refuses another user deleting a task exactly as it refuses a task that does not exist', async () => {
      const id = await createTask(alice);
      const existing = await stack.call('DELETE', `/tasks/${id}`, bob.token);
      const missing = await stack.call('DELETE', `/tasks/${crypto.randomUUID()}`, bob.token);
      assert.equal(existing.status, 403);
      assert.deepEqual(
        [existing.status, existing.body.error.code, existing.body.error.message],
        [missing.status, missing.body.error.code, missing.body.error.message],
      );
      assert.equal((await stack.call('GET', `/tasks/${id}`, alice.token)).status, 200, 'the task is still there');
    });

    it('refuses delete to a non-admin, even of their own task', async () => {
      const id = await createTask(alice);
      const response = await stack.call('DELETE', `/tasks/${id}`, alice.token);
      assert.equal(response.status, 403);
      assert.equal(response.body.error.code, 'insufficient_scope');
      assert.equal((await stack.call('GET', `/tasks/${id}`, alice.token)).status, 200);
    });

    it('asks an admin without a recent second factor to step up (401 insufficient_user_authentication)', async () => {
      const id = await createTask(alice);
      const response = await stack.call('DELETE', `/tasks/${id}`, admin.token);
      assert.equal(response.status, 401);
      assert.equal(response.body.error.code, 'insufficient_user_authentication');
      assert.match(
        response.headers.get('www-authenticate')!,
        /error="insufficient_user_authentication".*max_age="900"/,
      );
      assert.equal((await stack.call('GET', `/tasks/${id}`, alice.token)).status, 200);
    });

    it('refuses a write without the tasks:write scope (403 insufficient_scope)', async () => {
      const response = await stack.call('POST', '/tasks', readOnly.token, { title: 'nope' });
      assert.equal(response.status, 403);
      assert.match(response.headers.get('www-authenticate')!, /error="insufficient_scope".*scope="tasks:write"/);
    });

    it('refuses a user on a worker route', async () => {
      const response = await stack.call('GET', '/worker/tasks/next', admin.token);
      assert.equal(response.status, 403);
      assert.match(response.body.error.message, /service accounts only/);
    });

    it('refuses a service on a user route', async () => {
      const response = await stack.call('GET', '/tasks/mine', worker.token);
      assert.equal(response.status, 403);
      assert.match(response.body.error.message, /for users/);
    });

    it('refuses a body that claims a role (400, unknown field)', async () => {
      const response = await stack.call('POST', '/tasks', alice.token, { title: 'sneaky', role: 'admin' });
      assert.equal(response.status, 400);
      assert.match(response.body.error.message, /role/);
    });

    it('refuses a body that claims another owner (400, unknown field)', async () => {
      const response = await stack.call('POST', '/tasks', alice.token, { title: 'sneaky', owner: bob.sub });
      assert.equal(response.status, 400);
      const update = await stack.call('PATCH', `/tasks/${await createTask(alice)}`, alice.token, { ownerSub: bob.sub });
      assert.equal(update.status, 400);
    });

    it('refuses malformed JSON, the wrong content type and an oversized body in the envelope', async () => {
      const malformed = await fetch(`${stack.apiUrl}/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
        body: '{"title":',
      });
      assert.equal(malformed.status, 400);
      assert.equal(((await malformed.json()) as { error: { code: string } }).error.code, 'invalid_json');
      const text = await fetch(`${stack.apiUrl}/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'text/plain' },
        body: 'title',
      });
      assert.equal(text.status, 415);
      assert.equal(
        (await stack.call('POST', '/tasks', alice.token, { title: 'x', description: 'y'.repeat(20_000) })).status,
        413,
      );
    });

    it('answers a task id that is not a UUID with 404, not an error', async () => {
      assert.equal((await stack.call('GET', '/tasks/not-a-uuid', alice.token)).status, 404);
    });
  });

  describe('workers', () => {
    it('lets two workers claiming at once get two different tasks, and complete only their own', async () => {
      const [first, second] = await Promise.all([createTask(alice, 'job A'), createTask(alice, 'job B')]);
      const otherWorker = await stack.serviceToken();
      // Drain older open tasks left by other tests first, so these two are next in line.
      let claims: Array<{ status: number; body: { id?: string } }>;
      do {
        claims = await Promise.all([
          stack.call('GET', '/worker/tasks/next', worker.token),
          stack.call('GET', '/worker/tasks/next', otherWorker.token),
        ]);
      } while (claims.some((claim) => claim.status === 200 && ![first, second].includes(String(claim.body.id))));
      const ids = claims.map((claim) => claim.body.id);
      assert.equal(new Set(ids).size, 2, 'never the same task twice');
      assert.deepEqual([...ids].sort(), [first, second].sort());
      const [mine, theirs] = [ids[0]!, ids[1]!];
      assert.equal((await stack.call('POST', `/worker/tasks/${theirs}/complete`, worker.token)).status, 404);
      const done = await stack.call('POST', `/worker/tasks/${mine}/complete`, worker.token);
      assert.equal(done.status, 200);
      assert.equal(done.body.status, 'done');
      const ownerView = await stack.call('GET', `/tasks/${mine}`, alice.token);
      assert.equal(ownerView.body.status, 'done');
    });

    it('answers 204 when there is nothing to claim', async () => {
      let response;
      do response = await stack.call('GET', '/worker/tasks/next', worker.token);
      while (response.status === 200);
      assert.equal(response.status, 204);
    });
  });

  it('produces the table of routes × callers and the status each gets', async () => {
    const id = await createTask(alice, 'matrix');
    const callers = {
      'no token': undefined,
      owner: alice.token,
      'other user': bob.token,
      'read-only user': readOnly.token,
      admin: admin.token,
      'admin (2FA)': adminSteppedUp.token,
      service: worker.token,
    } as const;
    const routes: Array<[string, string, unknown?]> = [
      ['POST', '/tasks', { title: 'matrix' }],
      ['GET', '/tasks/mine'],
      ['GET', `/tasks/${id}`],
      ['PATCH', `/tasks/${id}`, { title: 'matrix' }],
      ['PUT', `/tasks/${id}/assignee`, { assignee: null }],
      ['GET', '/worker/tasks/next'],
      ['POST', `/worker/tasks/${id}/complete`],
      ['DELETE', `/tasks/${id}`],
    ];
    const rows: string[] = [
      `| route | ${Object.keys(callers).join(' | ')} |`,
      `|---|${Object.keys(callers)
        .map(() => '---')
        .join('|')}|`,
    ];
    for (const [method, route, body] of routes) {
      const statuses: number[] = [];
      for (const token of Object.values(callers)) statuses.push((await stack.call(method, route, token, body)).status);
      rows.push(`| ${method} ${route.replace(id, ':id')} | ${statuses.join(' | ')} |`);
    }
    const table = rows.join('\n');
    await mkdir(path.join(projectRoot, 'test-results'), { recursive: true });
    await writeFile(path.join(projectRoot, 'test-results/route-matrix.md'), `${table}\n`);
    process.stdout.write(`\n${table}\n`);
    // The expectations the table must meet.
    assert.match(table, /\| GET \/tasks\/:id \| 401 \| 200 \| 404 \| 404 \| 200 \| 200 \| 403 \|/);
    assert.match(table, /\| DELETE \/tasks\/:id \| 401 \| 403 \| 403 \| 403 \| 401 \| 204 \| 403 \|/);
  });
});
