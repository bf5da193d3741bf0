import type { Context } from 'koa';
import {
  claimMappingLine,
  parseClaimMapping,
  parseRoleMapping,
  roleMappingLine,
  type ClaimMapping,
  type RoleMapping,
} from '../../accounts/federation/mappings.ts';
import { PROFILE_FIELDS } from '../../accounts/profile.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import { lines, type ConsoleParts } from './console-detail-routes.ts';

type Page = { items: Array<Record<string, unknown>>; nextCursor: string | null };
type Provider = Record<string, unknown> & {
  slug: string;
  name: string;
  kind: string;
  claimMappings: ClaimMapping[];
  roleMappings: RoleMapping[];
};

const words = (text: string | null) => (text ?? '').split(/[\s,]+/).filter(Boolean);

/**
 * A provider's settings as the console's form gives them, in the admin API's shape (the same
 * schema then judges them). Mappings are typed a line each, as on the CLI; a line that is not one
 * is named back. An empty secret keeps the stored one.
 */
function providerSettings(form: URLSearchParams): { body: Record<string, unknown> } | { problem: string } {
  const claimLines = lines(form.get('claim_mappings'));
  const roleLines = lines(form.get('role_mappings'));
  const badClaim = claimLines.find((line) => !parseClaimMapping(line));
  if (badClaim) return { problem: `“${badClaim}” is not a claim mapping: write claim=field, or claim=field:force.` };
  const badRole = roleLines.find((line) => !parseRoleMapping(line));
  if (badRole)
    return { problem: `“${badRole}” is not a role mapping: write claim:value=role, or claim:value=role:force.` };
  const text = (name: string) => (form.get(name) ?? '').trim();
  const scopes = words(form.get('scopes'));
  return {
    body: {
      name: text('name'),
      ...(text('button_label') ? { buttonLabel: text('button_label') } : {}),
      ...(text('issuer') ? { issuer: text('issuer') } : {}),
      clientId: text('client_id'),
      ...(text('client_secret') ? { clientSecret: text('client_secret') } : {}),
      ...(scopes.length ? { scopes } : {}),
      allowedDomains: words(form.get('allowed_domains')),
      allowSignUp: form.get('allow_sign_up') === 'on',
      trustEmailVerified: form.get('trust_email') === 'on',
      trustMfa: form.get('trust_mfa') === 'on',
      claimMappings: claimLines.map(parseClaimMapping),
      roleMappings: roleLines.map(parseRoleMapping),
    },
  };
}

const problemAt = (ctx: Context, back: string, problem: string) =>
  seeOther(ctx, `${back}?error=${encodeURIComponent(problem)}`);

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

  const providerPage = (slug: string) => `/admin/integrations/providers/${encodeURIComponent(slug)}`;

  router.post('/admin/integrations/providers', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const { actor, form } = input;
    const settings = providerSettings(form);
    if ('problem' in settings) return problemAt(ctx, back, settings.problem);
    const preset = form.get('preset') ?? '';
    const tenant = (form.get('tenant') ?? '').trim();
    const body = {
      slug: (form.get('slug') ?? '').trim(),
      ...(preset ? { preset } : {}),
      ...(preset === 'microsoft' && tenant ? { tenant } : {}),
      ...settings.body,
    };
    await change(ctx, actor, 'post /identity-providers', { body }, back, 'Registered.', async (created) => {
      const { slug } = created as Provider;
      const notice = `Registered. Give the provider the redirect URI shown here.`;
      seeOther(ctx, `${providerPage(slug)}?notice=${encodeURIComponent(notice)}`);
    });
  });

  router.get('/admin/integrations/providers/:slug', async (ctx) => {
    const actor = await page(ctx);
    if (!actor) return;
    const provider = await operations.run<Provider>('get /identity-providers/:slug', actor, ctx, {
      params: { slug: ctx.params.slug ?? '' },
    });
    render(ctx, 'console-provider', actor, {
      title: provider.name,
      provider,
      claimLines: provider.claimMappings.map(claimMappingLine).join('\n'),
      roleLines: provider.roleMappings.map(roleMappingLine).join('\n'),
      profileFields: PROFILE_FIELDS,
      ...feedback(ctx),
    });
  });

  router.post('/admin/integrations/providers/:slug/edit', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const slug = ctx.params.slug ?? '';
    const settings = providerSettings(input.form);
    if ('problem' in settings) return problemAt(ctx, providerPage(slug), settings.problem);
    const body = { ...settings.body, enabled: input.form.get('enabled') === 'on' };
    await change(
      ctx,
      input.actor,
      'patch /identity-providers/:slug',
      { params: { slug }, body },
      providerPage(slug),
      'Saved.',
    );
  });

  router.post('/admin/integrations/providers/:slug/delete', async (ctx) => {
    const input = await consoleForm(ctx);
    if (!input) return;
    const slug = ctx.params.slug ?? '';
    await change(
      ctx,
      input.actor,
      'delete /identity-providers/:slug',
      { params: { slug } },
      back,
      'The provider and every link to it are removed.',
    );
  });
  toggle('/admin/integrations/webhooks/:id', 'put /webhooks/:id/enabled', 'id', 'webhook');
}
