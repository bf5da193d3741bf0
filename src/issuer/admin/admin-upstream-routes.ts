import { z } from 'zod';
import { badRequest, notFound } from '../../shared/http/errors.ts';
import { NewUpstream, presentUpstream, UpstreamChanges, UpstreamInputError } from '../federation/upstream-providers.ts';
import { FEDERATION_CALLBACK_PATH } from '../interactions/federation-routes.ts';
import { adminRoute, type AnyAdminRoute } from './admin-route.ts';
import { pageOf } from './admin-schemas.ts';
import { audit, type AdminServices } from './admin-services.ts';

const mapping = z.object({ claim: z.string(), sync: z.enum(['import', 'force']) });
const Upstream = z.object({
  id: z.uuid(),
  slug: z.string(),
  kind: z.enum(['oidc', 'github']),
  name: z.string(),
  buttonLabel: z.string(),
  issuer: z.string(),
  apiBase: z.string().nullable(),
  clientId: z.string(),
  scopes: z.array(z.string()),
  enabled: z.boolean(),
  allowSignUp: z.boolean(),
  allowedDomains: z.array(z.string()),
  trustEmailVerified: z.boolean(),
  trustMfa: z.boolean(),
  claimMappings: z.array(mapping.extend({ field: z.string() })),
  roleMappings: z.array(mapping.extend({ value: z.string(), role: z.string() })),
  redirectUri: z.string().describe('Register this at the upstream as the redirect URI'),
  createdAt: z.string(),
});
const Slug = z.strictObject({ slug: z.string().min(1).max(40) });

/** Other identity providers people may sign in with: register (secret sealed, never shown), change, remove. */
export function adminUpstreamRoutes(services: AdminServices): AnyAdminRoute[] {
  const { upstreams, issuerUrl } = services;
  const tag = 'Identity providers';
  const present = (row: Parameters<typeof presentUpstream>[0]) =>
    presentUpstream(row, `${issuerUrl}${FEDERATION_CALLBACK_PATH}`);
  const inputError = (error: unknown) => {
    throw error instanceof UpstreamInputError ? badRequest(error.message) : error;
  };
  const changed = (slug: string, change: string) => ({
    type: 'admin.upstream_changed' as const,
    detail: { provider: slug, change },
  });
  return [
    adminRoute({
      method: 'get',
      path: '/identity-providers',
      tag,
      summary: 'List the identity providers people may sign in with (never their secrets)',
      access: 'read',
      response: pageOf(Upstream),
      handle: async () => ({ items: (await upstreams.list()).map(present), nextCursor: null }),
    }),
    adminRoute({
      method: 'post',
      path: '/identity-providers',
      tag,
      summary: 'Register an identity provider (oidc by discovery, a google/microsoft/github preset)',
      access: 'write',
      body: NewUpstream,
      status: 201,
      response: Upstream,
      async handle({ body, actor, ctx }) {
        const created = await upstreams.create(body).catch(inputError);
        await audit(services, actor, ctx, changed(created.slug, 'created'));
        return present(created);
      },
    }),
    adminRoute({
      method: 'get',
      path: '/identity-providers/:slug',
      tag,
      summary: 'Show an identity provider',
      access: 'read',
      params: Slug,
      response: Upstream,
      errors: [404],
      async handle({ params }) {
        const row = await upstreams.find(params.slug);
        if (!row) throw notFound('No such identity provider.');
        return present(row);
      },
    }),
    adminRoute({
      method: 'patch',
      path: '/identity-providers/:slug',
      tag,
      summary: 'Change an identity provider (a new client secret replaces the old one)',
      access: 'write',
      params: Slug,
      body: UpstreamChanges,
      response: Upstream,
      errors: [404],
      async handle({ params, body, actor, ctx }) {
        const row = await upstreams.update(params.slug, body).catch(inputError);
        if (!row) throw notFound('No such identity provider.');
        await audit(services, actor, ctx, changed(row.slug, `updated: ${Object.keys(body).join(' ')}`));
        return present(row);
      },
    }),
    adminRoute({
      method: 'delete',
      path: '/identity-providers/:slug',
      tag,
      summary: 'Remove an identity provider and every link to it',
      access: 'write',
      params: Slug,
      status: 204,
      errors: [404],
      async handle({ params, actor, ctx }) {
        if (!(await upstreams.remove(params.slug))) throw notFound('No such identity provider.');
        await audit(services, actor, ctx, changed(params.slug, 'deleted'));
      },
    }),
  ];
}
