import { scopesByApi } from '../api-keys/api-keys.ts';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { RequestState } from '../../shared/http/request-context.ts';
import { AppError } from '../../shared/http/errors.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import type { Actor } from '../../shared/auth/actor.ts';
import { hasRecentSecondFactor } from '../../shared/auth/step-up.ts';
import type { AccountPages, SignedIn } from '../account/account-pages.ts';
import { ADMIN_SCOPES, ADMIN_STEP_UP_SECONDS } from '../admin/admin-api.ts';
import type { FormGuard } from '../interactions/form-guard.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import { refusalOf, type AdminOperations } from './admin-operations.ts';
import { consoleDetailRoutes } from './console-detail-routes.ts';
import { consoleIntegrationRoutes } from './console-integration-routes.ts';

type Person = Extract<Actor, { kind: 'user' }>;
type Page = { items: Array<Record<string, unknown>>; nextCursor: string | null };

export interface ConsoleOptions {
  account: AccountPages;
  operations: AdminOperations;
  pages: PageRenderer;
  forms: FormGuard;
  /** The issuer's URL, for the quick-start panel (never the request's Host). */
  issuerUrl: string;
  /** The admin API's scopes a person holds through roles, read afresh at every request. */
  adminScopesOf: (userId: string) => Promise<Set<string>>;
  /** What the overview counts and warns about. */
  overview: () => Promise<{
    counts: Array<{ label: string; value: number }>;
    attention: string[];
    nextRotation: string | undefined;
    tokens: Array<{ label: string; value: number }>;
  }>;
}

const SECTIONS = [
  { href: '/admin', label: 'Overview' },
  { href: '/admin/users', label: 'Users' },
  { href: '/admin/applications', label: 'Applications' },
  { href: '/admin/apis', label: 'APIs and roles' },
  { href: '/admin/integrations', label: 'Keys and providers' },
  { href: '/admin/log', label: 'Security log' },
];
const USER_ACTIONS: Record<string, { label: string; done: string }> = {
  disable: { label: 'Disable', done: 'The account is disabled: every session and refresh token is ended.' },
  enable: { label: 'Enable', done: 'The account is enabled.' },
  unlock: { label: 'Unlock', done: 'The sign-in lock is lifted.' },
  'reset-second-factor': { label: 'Reset second factor', done: 'The second factor and recovery codes are removed.' },
  'password-reset': { label: 'Send a password-reset mail', done: 'A password-reset mail is on its way.' },
};
const lines = (text: string | null) =>
  (text ?? '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);

/**
 * The admin console at /admin: pages for people who would rather look than type, on the admin
 * API's own operations (see admin-operations.ts). Who is asking comes from the issuer's session
 * (the same sign-in, second factor and lockout as everywhere); the admin role's scopes decide
 * what they may see and do; a change needs a second factor at most 15 minutes old, which the page
 * says before asking for it. Every form has the account pages' form token and Origin check.
 */
export function consoleRoutes(options: ConsoleOptions): Router<RequestState> {
  const { account, operations, pages, forms } = options;
  const router = new Router<RequestState>();

  /** The administrator behind this browser, or a sign-in (none) or a refusal page (no admin role). */
  async function administrator(ctx: Context, who: SignedIn | undefined): Promise<Person | undefined> {
    if (!who) {
      account.signIn(ctx, false, ctx.path);
      return undefined;
    }
    const scopes = await options.adminScopesOf(who.user.id);
    if (!scopes.has(ADMIN_SCOPES.read))
      throw new AppError(
        403,
        'forbidden',
        'The admin console is for administrators: your account does not have the admin role.',
        {},
        { href: '/account', text: 'Go to your account' },
        'Not an administrator',
      );
    return {
      kind: 'user',
      sub: who.user.id,
      clientId: 'latchkey-admin-console',
      roles: new Set(who.user.roleNames),
      scopes,
      authTime: who.signedInAt,
      amr: who.amr,
    };
  }

  const render = (ctx: Context, view: string, actor: Person, data: Record<string, unknown>, status = 200) => {
    const fresh = hasRecentSecondFactor(actor, ADMIN_STEP_UP_SECONDS);
    pages.render(
      ctx,
      view,
      {
        title: typeof data.title === 'string' ? data.title : 'Admin console',
        wide: true,
        csrf: forms.browserToken(ctx),
        sections: SECTIONS.map((section) => ({
          ...section,
          current: section.href === ctx.path || (section.href !== '/admin' && ctx.path.startsWith(section.href)),
        })),
        canWrite: actor.scopes.has(ADMIN_SCOPES.write),
        secondFactorFresh: fresh,
        ...data,
      },
      status,
    );
    ctx.set('X-Frame-Options', 'DENY');
  };

  /** Reads a console form (its token and Origin checked) and its administrator. */
  async function consoleForm(ctx: Context) {
    const signedIn = await account.formFrom(ctx);
    if (!signedIn) return undefined;
    const actor = await administrator(ctx, signedIn.who);
    return actor ? { actor, form: signedIn.form } : undefined;
  }

  /**
   * Runs a change and goes back to `back` with a notice; a refusal is shown on the page it came
   * from. A change without a recent second factor says why and offers to sign in again with it.
   */
  async function changeWith(
    ctx: Context,
    actor: Person,
    back: string,
    notice: string,
    work: () => Promise<unknown>,
    shown?: (result: unknown) => Promise<void>,
  ) {
    const to = (key: string, text: string) =>
      `${back}${back.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(text)}`;
    try {
      const result = await work();
      if (shown) return shown(result);
      seeOther(ctx, to('notice', notice));
    } catch (error) {
      const refusal = refusalOf(error);
      if (!refusal) throw error;
      if (refusal.stepUp)
        return render(
          ctx,
          'console-step-up',
          actor,
          { title: 'Confirm it is you', back, maxMinutes: ADMIN_STEP_UP_SECONDS / 60 },
          401,
        );
      seeOther(ctx, to('error', refusal.message));
    }
  }
  /** One admin operation as a change (see changeWith). */
  const change = (
    ctx: Context,
    actor: Person,
    key: string,
    input: Parameters<AdminOperations['run']>[3],
    back: string,
    notice: string,
    shown?: (result: unknown) => Promise<void>,
  ) => changeWith(ctx, actor, back, notice, () => operations.run(key, actor, ctx, input), shown);
  const feedback = (ctx: Context) => ({
    notice: typeof ctx.query.notice === 'string' ? ctx.query.notice.slice(0, 300) : undefined,
    error: typeof ctx.query.error === 'string' ? ctx.query.error.slice(0, 300) : undefined,
  });
  const page = async (ctx: Context) => administrator(ctx, await account.signedIn(ctx));

  // Sign in again with the second factor (prompt=login, max_age=0), then back to the page.
  router.post('/admin/step-up', async (ctx) => {
    const signedIn = await account.formFrom(ctx);
    if (!signedIn) return;
    const back = signedIn.form.get('back') ?? '/admin';
    account.signIn(ctx, true, back.startsWith('/admin') ? back : '/admin');
  });

  router.get('/admin', async (ctx) => {
    const actor = await page(ctx);
    if (!actor) return;
    const [summary, keys] = await Promise.all([options.overview(), operations.run<Page>('get /keys', actor, ctx)]);
    render(ctx, 'console-overview', actor, { title: 'Overview', ...summary, keys: keys.items, ...feedback(ctx) });
  });

  router.get('/admin/users', async (ctx) => {
    const actor = await page(ctx);
    if (!actor) return;
    const q = typeof ctx.query.q === 'string' ? ctx.query.q : undefined;
    const cursor = typeof ctx.query.cursor === 'string' ? ctx.query.cursor : undefined;
    const [users, roles] = await Promise.all([
      operations.run<Page>('get /users', actor, ctx, { query: { q, cursor, limit: '25' } }),
      operations.run<Page>('get /roles', actor, ctx),
    ]);
    render(ctx, 'console-users', actor, {
      title: 'Users',
      q: q ?? '',
      users: users.items,
      nextCursor: users.nextCursor,
      roles: roles.items,
      ...feedback(ctx),
    });
  });

  router.post('/admin/users', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const { actor, form } = input;
    const roles = form.getAll('role');
    await change(
      ctx,
      actor,
      'post /users',
      {
        body: {
          email: form.get('email') ?? '',
          password: form.get('password') ?? '',
          emailVerified: form.get('verified') === 'on',
          ...(roles.length ? { roles } : {}),
        },
      },
      '/admin/users',
      'The user is created.',
      async (created) =>
        seeOther(
          ctx,
          `/admin/users/${(created as { id: string }).id}?notice=${encodeURIComponent('The user is created.')}`,
        ),
    );
  });

  router.get('/admin/users/:id', async (ctx) => {
    const actor = await page(ctx);
    if (!actor) return;
    const params = { id: ctx.params.id ?? '' };
    const [user, sessions, grants, events, roles, passkeys] = await Promise.all([
      operations.run<Record<string, unknown>>('get /users/:id', actor, ctx, { params }),
      operations.run<Page>('get /users/:id/sessions', actor, ctx, { params }),
      operations.run<Page>('get /users/:id/grants', actor, ctx, { params }),
      operations.run<Page>('get /events', actor, ctx, { query: { user: params.id, limit: '10' } }),
      operations.run<Page>('get /roles', actor, ctx),
      operations.run<Page>('get /users/:id/passkeys', actor, ctx, { params }),
    ]);
    const actions = Object.entries(USER_ACTIONS)
      .filter(([name]) => (name === 'disable' ? !user.disabled : name === 'enable' ? user.disabled === true : true))
      .map(([name, action]) => ({ name, label: action.label }));
    render(ctx, 'console-user', actor, {
      title: String(user.email),
      user,
      sessions: sessions.items,
      grants: grants.items,
      passkeys: passkeys.items,
      events: events.items,
      otherRoles: roles.items
        .map((role) => String(role.name))
        .filter((name) => !(user.roles as string[]).includes(name)),
      actions,
      ...feedback(ctx),
    });
  });

  router.post('/admin/users/:id/act/:action', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const action = USER_ACTIONS[ctx.params.action ?? ''];
    if (!action) throw new AppError(404, 'not_found', 'There is no such action.');
    const id = ctx.params.id ?? '';
    await change(
      ctx,
      input.actor,
      `post /users/:id/${ctx.params.action}`,
      { params: { id } },
      `/admin/users/${encodeURIComponent(id)}`,
      action.done,
    );
  });

  router.post('/admin/users/:id/sign-out-everywhere', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const id = ctx.params.id ?? '';
    const back = `/admin/users/${encodeURIComponent(id)}`;
    await changeWith(ctx, input.actor, back, 'Every browser session of this account is ended.', async () => {
      const sessions = await operations.run<Page>('get /users/:id/sessions', input.actor, ctx, { params: { id } });
      for (const session of sessions.items)
        await operations.run('delete /users/:id/sessions/:handle', input.actor, ctx, {
          params: { id, handle: String(session.handle) },
        });
    });
  });

  router.post('/admin/users/:id/roles', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const id = ctx.params.id ?? '';
    const back = `/admin/users/${encodeURIComponent(id)}`;
    const remove = input.form.get('remove');
    if (remove)
      return change(
        ctx,
        input.actor,
        'delete /users/:id/roles/:role',
        { params: { id, role: remove } },
        back,
        `The role ${remove} is taken away.`,
      );
    await change(
      ctx,
      input.actor,
      'post /users/:id/roles',
      { params: { id }, body: { roles: input.form.getAll('role') } },
      back,
      'The role is given.',
    );
  });

  router.post('/admin/users/:id/delete', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const id = ctx.params.id ?? '';
    await change(
      ctx,
      input.actor,
      'delete /users/:id',
      { params: { id }, query: { confirm: input.form.get('confirm') ?? '' } },
      `/admin/users/${encodeURIComponent(id)}`,
      'Erased.',
      async () => seeOther(ctx, `/admin/users?notice=${encodeURIComponent('The account is erased.')}`),
    );
  });

  router.get('/admin/applications', async (ctx) => {
    const actor = await page(ctx);
    if (!actor) return;
    const [clients, apis] = await Promise.all([
      operations.run<Page>('get /clients', actor, ctx),
      operations.run<Page>('get /apis', actor, ctx),
    ]);
    render(ctx, 'console-applications', actor, {
      title: 'Applications',
      clients: clients.items,
      apis: apis.items,
      ...feedback(ctx),
    });
  });

  router.post('/admin/applications', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const { actor, form } = input;
    const type = form.get('type') ?? '';
    const resources = form.getAll('resource');
    const body = {
      name: form.get('name') ?? '',
      type,
      ...(lines(form.get('redirect_uris')).length ? { redirectUris: lines(form.get('redirect_uris')) } : {}),
      ...(resources.length ? { resources } : {}),
      ...(form.get('first_party') === 'on' ? { firstParty: true } : {}),
    };
    await change(ctx, actor, 'post /clients', { body }, '/admin/applications', 'Created.', async (created) => {
      const client = created as { id: string; name: string; type: string; clientSecret?: string };
      render(
        ctx,
        'console-application-created',
        actor,
        {
          title: 'Application created',
          client,
          issuerUrl: options.issuerUrl,
          ...(client.clientSecret ? { script: 'copy-key' } : {}),
        },
        201,
      );
    });
  });

  router.post('/admin/applications/:id/rotate-secret', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const id = ctx.params.id ?? '';
    await change(
      ctx,
      input.actor,
      'post /clients/:id/secret',
      { params: { id } },
      '/admin/applications',
      'Rotated.',
      async (rotated) => {
        const client = {
          id,
          name: id,
          type: 'confidential',
          clientSecret: (rotated as { clientSecret: string }).clientSecret,
        };
        render(ctx, 'console-application-created', input.actor, {
          title: 'New client secret',
          client,
          issuerUrl: options.issuerUrl,
          script: 'copy-key',
        });
      },
    );
  });

  router.post('/admin/applications/:id/delete', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    await change(
      ctx,
      input.actor,
      'delete /clients/:id',
      { params: { id: ctx.params.id ?? '' } },
      '/admin/applications',
      'The application is deleted.',
    );
  });

  router.get('/admin/apis', async (ctx) => {
    const actor = await page(ctx);
    if (!actor) return;
    const [apis, roles] = await Promise.all([
      operations.run<Page>('get /apis', actor, ctx),
      operations.run<Page>('get /roles', actor, ctx),
    ]);
    const permissions = (apis.items as Array<{ identifier: string; scopes: Array<{ name: string }> }>).flatMap((api) =>
      api.scopes.map((scope) => ({ api: api.identifier, scope: scope.name, value: `${api.identifier} ${scope.name}` })),
    );
    const matrix = (
      roles.items as Array<{ name: string; users: number; permissions: Array<{ api: string; scope: string }> }>
    ).map((role) => ({
      ...role,
      holds: permissions.map((permission) =>
        role.permissions.some((held) => held.api === permission.api && held.scope === permission.scope),
      ),
    }));
    render(ctx, 'console-apis', actor, {
      title: 'APIs and roles',
      apis: apis.items,
      roles: matrix,
      permissions,
      ...feedback(ctx),
    });
  });

  router.post('/admin/apis', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const scopes = lines(input.form.get('scopes')).map((line) => {
      const at = line.indexOf(' ');
      return at < 0
        ? { name: line, description: line }
        : { name: line.slice(0, at), description: line.slice(at + 1).trim() };
    });
    await change(
      ctx,
      input.actor,
      'post /apis',
      { body: { identifier: input.form.get('identifier') ?? '', name: input.form.get('name') ?? '', scopes } },
      '/admin/apis',
      'The API is registered.',
    );
  });

  router.post('/admin/roles', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const { actor, form } = input;
    const name = form.get('name') ?? '';
    await changeWith(ctx, actor, '/admin/apis', `The role ${name} is created.`, async () => {
      await operations.run('post /roles', actor, ctx, { body: { name, description: form.get('description') ?? '' } });
      for (const [api, scopes] of scopesByApi(form.getAll('permission')))
        await operations.run('post /roles/:name/permissions', actor, ctx, { params: { name }, body: { api, scopes } });
    });
  });

  router.get('/admin/log', async (ctx) => {
    const actor = await page(ctx);
    if (!actor) return;
    const filter = (name: string) =>
      typeof ctx.query[name] === 'string' && ctx.query[name] !== '' ? ctx.query[name] : undefined;
    // The form's days (from, to inclusive) as the API's times.
    const day = (name: string, end: boolean) => {
      const value = filter(name);
      return value && /^\d{4}-\d{2}-\d{2}$/.test(value)
        ? new Date(Date.parse(`${value}T00:00:00.000Z`) + (end ? 86_400_000 : 0)).toISOString()
        : undefined;
    };
    const query = {
      type: filter('type'),
      user: filter('user'),
      client: filter('client'),
      ip: filter('ip'),
      since: day('from', false),
      until: day('to', true),
      cursor: filter('cursor'),
      limit: '50',
    };
    let events: Page = { items: [], nextCursor: null };
    let error: string | undefined;
    try {
      events = await operations.run<Page>('get /events', actor, ctx, { query });
    } catch (caught) {
      const refusal = refusalOf(caught);
      if (!refusal) throw caught;
      error = refusal.message;
    }
    // The form's own fields, so the next page keeps the filters as typed.
    const filters = Object.fromEntries(
      ['type', 'user', 'client', 'ip', 'from', 'to'].map((name) => [name, filter(name) ?? '']),
    );
    const kept = Object.entries(filters).filter(([, value]) => value !== '');
    const next = events.nextCursor
      ? `/admin/log?${new URLSearchParams([...kept, ['cursor', events.nextCursor]]).toString()}`
      : undefined;
    render(
      ctx,
      'console-log',
      actor,
      {
        title: 'Security log',
        events: events.items.map((event) => ({ ...event, detail: event.detail ? JSON.stringify(event.detail) : '' })),
        filters,
        next,
        ...(error ? { error } : {}),
      },
      error ? 400 : 200,
    );
  });

  const parts = {
    router,
    operations,
    issuerUrl: options.issuerUrl,
    page,
    consoleForm,
    render,
    change,
    changeWith,
    feedback,
  };
  consoleDetailRoutes(parts);
  consoleIntegrationRoutes(parts);
  return router;
}
