import { scopesByApi } from '../api-keys/api-keys.ts';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { RequestState } from '../../shared/http/request-context.ts';
import type { Actor } from '../../shared/auth/actor.ts';
import type { AdminOperations, OperationInput } from './admin-operations.ts';

type Person = Extract<Actor, { kind: 'user' }>;
type Page = { items: Array<Record<string, unknown>>; nextCursor: string | null };

/** What the detail pages borrow from the console's routes: who is asking, the page, and a change. */
export interface ConsoleParts {
  router: Router<RequestState>;
  operations: AdminOperations;
  issuerUrl: string;
  page: (ctx: Context) => Promise<Person | undefined>;
  consoleForm: (ctx: Context) => Promise<{ actor: Person; form: URLSearchParams } | undefined>;
  render: (ctx: Context, view: string, actor: Person, data: Record<string, unknown>, status?: number) => void;
  change: (
    ctx: Context,
    actor: Person,
    key: string,
    input: OperationInput,
    back: string,
    notice: string,
    /** Answers a change that went through, in place of going back with the notice. */
    shown?: (result: unknown) => Promise<void>,
  ) => Promise<void>;
  /** A change made of several operations (see console-routes.ts). */
  changeWith: (
    ctx: Context,
    actor: Person,
    back: string,
    notice: string,
    work: () => Promise<unknown>,
  ) => Promise<void>;
  feedback: (ctx: Context) => { notice?: string | undefined; error?: string | undefined };
}

export const lines = (text: string | null) =>
  (text ?? '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
const orNull = (text: string | null) => (text && text.trim() !== '' ? text.trim() : null);
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/**
 * The pages of one application, one API and one user's profile: every field of each editable
 * through the admin API's own update operation (so the same rules refuse the same input), and for
 * an application, its quick start.
 */
export function consoleDetailRoutes(parts: ConsoleParts): void {
  const { router, operations, page, consoleForm, render, change, changeWith, feedback, issuerUrl } = parts;

  router.get('/admin/applications/:id', async (ctx) => {
    const actor = await page(ctx);
    if (!actor) return;
    const params = { id: ctx.params.id ?? '' };
    const [client, apis] = await Promise.all([
      operations.run<Record<string, unknown> & { grantTypes: string[]; type: string; name: string }>(
        'get /clients/:id',
        actor,
        ctx,
        { params },
      ),
      operations.run<Page>('get /apis', actor, ctx),
    ]);
    render(ctx, 'console-application', actor, {
      title: client.name,
      client,
      apis: apis.items,
      issuerUrl,
      exchange: client.grantTypes.includes(TOKEN_EXCHANGE),
      ...feedback(ctx),
    });
  });

  router.post('/admin/applications/:id', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const { actor, form } = input;
    const id = ctx.params.id ?? '';
    const ttl = form.get('access_token_ttl');
    const body = {
      name: form.get('name') ?? '',
      redirectUris: lines(form.get('redirect_uris')),
      postLogoutRedirectUris: lines(form.get('post_logout_redirect_uris')),
      scopes: (form.get('scopes') ?? '').split(/\s+/).filter(Boolean),
      grantTypes: form.getAll('grant_type'),
      tokenExchangeSubjectTypes: form.getAll('grant_type').includes(TOKEN_EXCHANGE) ? form.getAll('exchange_type') : [],
      resources: form.getAll('resource'),
      defaultResource: orNull(form.get('default_resource')),
      firstParty: form.get('first_party') === 'on',
      pkceRequired: form.get('pkce_required') === 'on',
      accessTokenTtlSeconds: ttl && ttl.trim() !== '' ? Number(ttl) : null,
      logoUri: orNull(form.get('logo_uri')),
      clientUri: orNull(form.get('client_uri')),
      policyUri: orNull(form.get('policy_uri')),
      tosUri: orNull(form.get('tos_uri')),
    };
    const back = `/admin/applications/${encodeURIComponent(id)}`;
    await change(ctx, actor, 'patch /clients/:id', { params: { id }, body }, back, 'Saved.');
  });

  router.get('/admin/apis/:id', async (ctx) => {
    const actor = await page(ctx);
    if (!actor) return;
    const api = await operations.run<Record<string, unknown> & { name: string }>('get /apis/:id', actor, ctx, {
      params: { id: ctx.params.id ?? '' },
    });
    render(ctx, 'console-api', actor, { title: api.name, api, ...feedback(ctx) });
  });

  router.post('/admin/apis/:id', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const { actor, form } = input;
    const id = ctx.params.id ?? '';
    const back = `/admin/apis/${encodeURIComponent(id)}`;
    const ttl = form.get('access_token_ttl');
    await change(
      ctx,
      actor,
      'patch /apis/:id',
      {
        params: { id },
        body: {
          name: form.get('name') ?? '',
          accessTokenTtlSeconds: ttl && ttl.trim() !== '' ? Number(ttl) : null,
          roleLimited: form.get('role_limited') === 'on',
          dpopRequired: form.get('dpop_required') === 'on',
        },
      },
      back,
      'Saved.',
    );
  });

  router.post('/admin/apis/:id/scopes', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const id = ctx.params.id ?? '';
    const back = `/admin/apis/${encodeURIComponent(id)}`;
    const remove = input.form.get('remove');
    if (remove)
      return change(
        ctx,
        input.actor,
        'delete /apis/:id/scopes/:name',
        { params: { id, name: remove } },
        back,
        `The scope ${remove} is removed.`,
      );
    const name = input.form.get('scope') ?? '';
    await change(
      ctx,
      input.actor,
      'post /apis/:id/scopes',
      { params: { id }, body: { scopes: [{ name, description: input.form.get('description') ?? '' }] } },
      back,
      `The scope ${name} is added.`,
    );
  });

  router.post('/admin/users/:id/profile', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const id = ctx.params.id ?? '';
    const fields = ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'locale', 'zoneinfo'];
    const body = Object.fromEntries(
      fields.filter((field) => input.form.has(field)).map((field) => [field, input.form.get(field) ?? '']),
    );
    await change(
      ctx,
      input.actor,
      'patch /users/:id',
      { params: { id }, body },
      `/admin/users/${encodeURIComponent(id)}`,
      'The profile is saved.',
    );
  });

  router.get('/admin/roles/:name', async (ctx) => {
    const actor = await page(ctx);
    if (!actor) return;
    const name = ctx.params.name ?? '';
    const [role, apis, holders] = await Promise.all([
      operations.run<{
        name: string;
        description: string;
        users: number;
        clients: number;
        permissions: Array<{ api: string; scope: string }>;
      }>('get /roles/:name', actor, ctx, { params: { name } }),
      operations.run<Page>('get /apis', actor, ctx),
      operations.run<Page>('get /users', actor, ctx, { query: { role: name, limit: '50' } }),
    ]);
    const held = new Set(role.permissions.map((permission) => `${permission.api} ${permission.scope}`));
    const permissions = (
      apis.items as Array<{ identifier: string; name: string; scopes: Array<{ name: string }> }>
    ).flatMap((api) =>
      api.scopes.map((scope) => ({
        value: `${api.identifier} ${scope.name}`,
        api: api.name,
        scope: scope.name,
        held: held.has(`${api.identifier} ${scope.name}`),
      })),
    );
    render(ctx, 'console-role', actor, {
      title: `Role ${role.name}`,
      role,
      permissions,
      holders: holders.items,
      moreHolders: holders.nextCursor !== null,
      ...feedback(ctx),
    });
  });

  // The permissions ticked become the role's: what was added is granted, what was unticked revoked, per API.
  router.post('/admin/roles/:name', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const { actor, form } = input;
    const name = ctx.params.name ?? '';
    const back = `/admin/roles/${encodeURIComponent(name)}`;
    await changeWith(ctx, actor, back, 'Saved.', async () => {
      const role = await operations.run<{ permissions: Array<{ api: string; scope: string }> }>(
        'get /roles/:name',
        actor,
        ctx,
        { params: { name } },
      );
      const wanted = new Set(form.getAll('permission'));
      const held = new Set(role.permissions.map((permission) => `${permission.api} ${permission.scope}`));
      for (const [api, scopes] of scopesByApi([...wanted].filter((value) => !held.has(value))))
        await operations.run('post /roles/:name/permissions', actor, ctx, { params: { name }, body: { api, scopes } });
      for (const [api, scopes] of scopesByApi([...held].filter((value) => !wanted.has(value))))
        await operations.run('delete /roles/:name/permissions', actor, ctx, {
          params: { name },
          query: { api, scope: scopes },
        });
    });
  });

  router.post('/admin/users/:id/passkeys/remove', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const id = ctx.params.id ?? '';
    await change(
      ctx,
      input.actor,
      'delete /users/:id/passkeys/:passkeyId',
      { params: { id, passkeyId: input.form.get('passkey') ?? '' } },
      `/admin/users/${encodeURIComponent(id)}`,
      'The passkey is removed.',
    );
  });
}
