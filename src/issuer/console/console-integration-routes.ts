import type { ConsoleParts } from './console-detail-routes.ts';

type Page = { items: Array<Record<string, unknown>>; nextCursor: string | null };

/**
 * What connects to Latchkey besides applications: API keys (everyone's; revoke one, or a leaked
 * one by its full text), the identity providers people sign in with, and the security-event
 * webhooks; each turned on or off here, through the admin API's operations.
 */
export function consoleIntegrationRoutes(parts: ConsoleParts): void {
  const { router, operations, page, consoleForm, render, change, feedback, issuerUrl } = parts;
  const back = '/admin/integrations';

  router.get('/admin/integrations', async (ctx) => {
    const actor = await page(ctx);
    if (!actor) return;
    const [keys, providers, webhooks] = await Promise.all([
      operations.run<Page>('get /api-keys', actor, ctx, { query: { limit: '50' } }),
      operations.run<Page>('get /identity-providers', actor, ctx),
      operations.run<Page>('get /webhooks', actor, ctx),
    ]);
    const now = Date.now();
    render(ctx, 'console-integrations', actor, {
      title: 'Keys, providers and webhooks',
      keys: keys.items.map((key) => ({
        ...key,
        active: key.revokedAt === null && new Date(String(key.expiresAt)).getTime() > now,
        owner:
          typeof key.userId === 'string'
            ? `user ${key.userId}`
            : `client ${typeof key.clientId === 'string' ? key.clientId : ''}`,
      })),
      providers: providers.items,
      webhooks: webhooks.items,
      redirectUri: `${issuerUrl}/federation/callback`,
      ...feedback(ctx),
    });
  });

  router.post('/admin/integrations/keys/:id/revoke', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    await change(
      ctx,
      input.actor,
      'post /api-keys/:id/revoke',
      { params: { id: ctx.params.id ?? '' } },
      back,
      'The key is revoked.',
    );
  });

  router.post('/admin/integrations/keys/leaked', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    await change(
      ctx,
      input.actor,
      'post /api-keys/revoke-leaked',
      { body: { key: (input.form.get('key') ?? '').trim() } },
      back,
      'The leaked key is revoked.',
    );
  });

  /** A provider or a webhook turned on or off: the same form, one admin operation each. */
  const toggle = (path: string, operation: string, param: 'slug' | 'id', noun: string) =>
    router.post(path, async (ctx) => {
      const input = await consoleForm(ctx);
      if (!input) return;
      const enabled = input.form.get('enabled') === 'true';
      await change(
        ctx,
        input.actor,
        operation,
        { params: { [param]: ctx.params[param] ?? '' }, body: { enabled } },
        back,
        `The ${noun} is ${enabled ? 'on' : 'off'}.`,
      );
    });
  toggle('/admin/integrations/providers/:slug', 'patch /identity-providers/:slug', 'slug', 'provider');
  toggle('/admin/integrations/webhooks/:id', 'put /webhooks/:id/enabled', 'id', 'webhook');
}
