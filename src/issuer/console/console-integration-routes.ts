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

  router.post('/admin/integrations/providers/:slug', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const enabled = input.form.get('enabled') === 'true';
    await change(
      ctx,
      input.actor,
      'patch /identity-providers/:slug',
      { params: { slug: ctx.params.slug ?? '' }, body: { enabled } },
      back,
      enabled ? 'The provider is on.' : 'The provider is off.',
    );
  });

  router.post('/admin/integrations/webhooks/:id', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const enabled = input.form.get('enabled') === 'true';
    await change(
      ctx,
      input.actor,
      'put /webhooks/:id/enabled',
      { params: { id: ctx.params.id ?? '' }, body: { enabled } },
      back,
      enabled ? 'The webhook is on.' : 'The webhook is off.',
    );
  });
}
