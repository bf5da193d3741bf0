import { z } from 'zod';
import type { PrismaClient, UpstreamProvider } from '../../shared/database/generated/issuer/client.ts';
import type { Sealer } from '../../shared/crypto/sealing.ts';
import { ClaimMapping, RoleMapping } from '../../accounts/federation/mappings.ts';

export class UpstreamInputError extends Error {}

/** Where the presets point: what an operator would otherwise look up and type. */
const PRESETS = {
  google: { kind: 'oidc', issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'] },
  // Entra's issuer names the tenant; "common" has no single issuer an ID token could be checked against.
  microsoft: {
    kind: 'oidc',
    issuer: 'https://login.microsoftonline.com/{tenant}/v2.0',
    scopes: ['openid', 'email', 'profile'],
  },
  github: {
    kind: 'github',
    issuer: 'https://github.com',
    apiBase: 'https://api.github.com',
    scopes: ['read:user', 'user:email'],
  },
} as const;

const url = z.url({ protocol: /^https?$/ }).max(2000);
const fields = {
  name: z.string().trim().min(1).max(100),
  buttonLabel: z.string().trim().min(1).max(100).optional(),
  issuer: url.optional(),
  apiBase: url.optional(),
  clientId: z.string().min(1).max(500),
  clientSecret: z.string().min(1).max(2000),
  scopes: z.array(z.string().min(1).max(200)).max(30).optional(),
  enabled: z.boolean().optional(),
  allowSignUp: z.boolean().optional(),
  allowedDomains: z
    .array(
      z
        .string()
        .trim()
        .toLowerCase()
        .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/),
    )
    .max(50)
    .optional(),
  trustEmailVerified: z.boolean().optional(),
  trustMfa: z.boolean().optional(),
  claimMappings: z.array(ClaimMapping).max(30).optional(),
  roleMappings: z.array(RoleMapping).max(50).optional(),
};
export const NewUpstream = z.strictObject({
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'a slug is lower-case letters, digits and dashes'),
  kind: z.enum(['oidc', 'github']).optional(),
  preset: z.enum(['google', 'microsoft', 'github']).optional(),
  /** Microsoft Entra: the tenant's id or domain. */
  tenant: z
    .string()
    .regex(/^[A-Za-z0-9.-]{1,100}$/)
    .optional(),
  ...fields,
});
export const UpstreamChanges = z
  .strictObject({
    ...fields,
    name: fields.name.optional(),
    clientId: fields.clientId.optional(),
    clientSecret: fields.clientSecret.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'name at least one field to change');
export type NewUpstream = z.infer<typeof NewUpstream>;
export type UpstreamChanges = z.infer<typeof UpstreamChanges>;

/** A provider as the sign-in needs it, its secret opened. */
export interface Upstream {
  id: string;
  slug: string;
  kind: 'oidc' | 'github';
  name: string;
  buttonLabel: string;
  issuer: string;
  apiBase: string | null;
  clientId: string;
  clientSecret: string;
  scopes: string[];
  enabled: boolean;
  allowSignUp: boolean;
  allowedDomains: string[];
  trustEmailVerified: boolean;
  trustMfa: boolean;
  claimMappings: ClaimMapping[];
  roleMappings: RoleMapping[];
  updatedAt: Date;
}

/** A provider as the admin API shows it: never its secret. */
export function presentUpstream(row: UpstreamProvider, redirectUri: string) {
  return {
    id: row.id,
    slug: row.slug,
    kind: row.kind,
    name: row.name,
    buttonLabel: row.buttonLabel,
    issuer: row.issuer,
    apiBase: row.apiBase,
    clientId: row.clientId,
    scopes: row.scopes,
    enabled: row.enabled,
    allowSignUp: row.allowSignUp,
    allowedDomains: row.allowedDomains,
    trustEmailVerified: row.trustEmailVerified,
    trustMfa: row.trustMfa,
    claimMappings: row.claimMappings as ClaimMapping[],
    roleMappings: row.roleMappings as RoleMapping[],
    /** What to register at the upstream as this client's redirect URI. */
    redirectUri,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * The upstream providers an operator registers (admin API, `latchkey idp`): validated whole, the
 * client secret sealed under the key-encryption key (bound to the provider's id), the mappings'
 * roles checked to exist.
 */
export function upstreamProviders(db: PrismaClient, sealer: Sealer) {
  const open = (row: UpstreamProvider): Upstream => ({
    ...row,
    clientSecret: sealer.open(row.clientSecretSealed, `upstream:${row.id}`),
    claimMappings: row.claimMappings as ClaimMapping[],
    roleMappings: row.roleMappings as RoleMapping[],
  });
  async function checkRoles(mappings: RoleMapping[] | undefined): Promise<void> {
    const names = [...new Set((mappings ?? []).map((mapping) => mapping.role))];
    if (!names.length) return;
    const found = await db.role.findMany({ where: { name: { in: names } }, select: { name: true } });
    const missing = names.filter((name) => !found.some((role) => role.name === name));
    if (missing.length) throw new UpstreamInputError(`no role ${missing.join(', ')} (latchkey role create)`);
  }
  function checkIssuer(kind: 'oidc' | 'github', issuer: string | undefined): string {
    if (!issuer) throw new UpstreamInputError(`an ${kind} provider needs an issuer (or a preset)`);
    if (issuer.includes('{tenant}')) throw new UpstreamInputError('the microsoft preset needs --tenant');
    const parsed = new URL(issuer);
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
    if (parsed.protocol !== 'https:' && !loopback) throw new UpstreamInputError('an issuer must use https');
    return issuer.replace(/\/$/, '');
  }

  return {
    async create(input: NewUpstream): Promise<UpstreamProvider> {
      const preset = input.preset ? PRESETS[input.preset] : undefined;
      const kind = input.kind ?? preset?.kind ?? 'oidc';
      const issuer = checkIssuer(kind, input.issuer ?? preset?.issuer.replace('{tenant}', input.tenant ?? '{tenant}'));
      await checkRoles(input.roleMappings);
      if (await db.upstreamProvider.findUnique({ where: { slug: input.slug } }))
        throw new UpstreamInputError(`a provider ${input.slug} exists`);
      const id = crypto.randomUUID();
      return db.upstreamProvider.create({
        data: {
          id,
          slug: input.slug,
          kind,
          name: input.name,
          buttonLabel: input.buttonLabel ?? `Sign in with ${input.name}`,
          issuer,
          apiBase:
            kind === 'github'
              ? (input.apiBase ?? (preset && 'apiBase' in preset ? preset.apiBase : null) ?? null)
              : null,
          clientId: input.clientId,
          clientSecretSealed: sealer.seal(input.clientSecret, `upstream:${id}`),
          scopes: input.scopes ?? [...(preset?.scopes ?? ['openid', 'email', 'profile'])],
          enabled: input.enabled ?? true,
          allowSignUp: input.allowSignUp ?? false,
          allowedDomains: input.allowedDomains ?? [],
          trustEmailVerified: input.trustEmailVerified ?? false,
          trustMfa: input.trustMfa ?? false,
          claimMappings: input.claimMappings ?? [],
          roleMappings: input.roleMappings ?? [],
        },
      });
    },

    async update(slug: string, changes: UpstreamChanges): Promise<UpstreamProvider | undefined> {
      const row = await db.upstreamProvider.findUnique({ where: { slug } });
      if (!row) return undefined;
      await checkRoles(changes.roleMappings);
      const { clientSecret, claimMappings, roleMappings, issuer, ...rest } = changes;
      return db.upstreamProvider.update({
        where: { id: row.id },
        data: {
          ...rest,
          ...(issuer ? { issuer: checkIssuer(row.kind, issuer) } : {}),
          ...(clientSecret ? { clientSecretSealed: sealer.seal(clientSecret, `upstream:${row.id}`) } : {}),
          ...(claimMappings ? { claimMappings: claimMappings } : {}),
          ...(roleMappings ? { roleMappings: roleMappings } : {}),
        },
      });
    },

    list: () => db.upstreamProvider.findMany({ orderBy: { createdAt: 'asc' } }),
    find: (slug: string) => db.upstreamProvider.findUnique({ where: { slug } }),
    async remove(slug: string): Promise<boolean> {
      const { count } = await db.upstreamProvider.deleteMany({ where: { slug } });
      return count === 1;
    },

    /** The enabled providers, for the sign-in page's buttons. */
    enabled: async () =>
      (await db.upstreamProvider.findMany({ where: { enabled: true }, orderBy: { createdAt: 'asc' } })).map(open),
    /** One provider with its secret opened, for a sign-in through it. */
    async forSignIn(idOrSlug: { id: string } | { slug: string }): Promise<Upstream | undefined> {
      const row = await db.upstreamProvider.findUnique({ where: idOrSlug });
      return row ? open(row) : undefined;
    },
  };
}

export type UpstreamProviders = ReturnType<typeof upstreamProviders>;
