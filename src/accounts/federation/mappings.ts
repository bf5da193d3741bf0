import { z } from 'zod';
import { PROFILE_FIELDS, type ProfileFields } from '../profile.ts';

/**
 * How an upstream provider's claims shape a local account: a claim into a profile field, or a value
 * held in a claim (a string, or one of a list such as `groups`) into a role. Each mapping says when
 * it applies: `import` sets it once, when the account is made; `force` sets it again at every
 * sign-in through the provider, so the upstream stays the source of truth (a role taken away there
 * is taken away here at the next sign-in).
 */
export const SyncMode = z.enum(['import', 'force']);
export const ClaimMapping = z.strictObject({
  claim: z.string().min(1).max(100),
  field: z.enum(PROFILE_FIELDS as unknown as [keyof ProfileFields, ...Array<keyof ProfileFields>]),
  sync: SyncMode.default('import'),
});
export const RoleMapping = z.strictObject({
  claim: z.string().min(1).max(100),
  value: z.string().min(1).max(200),
  role: z.string().min(1).max(64),
  sync: SyncMode.default('import'),
});
export type ClaimMapping = z.infer<typeof ClaimMapping>;
export type RoleMapping = z.infer<typeof RoleMapping>;

/**
 * The one-line forms people type (the CLI's `--claim-map` and `--role-map`, a console textarea's
 * lines): `claim=field[:force]` and `claim:value=role[:force]`. Undefined when the line is not one.
 * The schemas above still judge the parts (a field that is not a profile field, say).
 */
export function parseClaimMapping(text: string) {
  const match = /^([^=]+)=([a-z_]+)(?::(import|force))?$/.exec(text.trim());
  return match ? { claim: match[1]!, field: match[2]!, sync: match[3] ?? 'import' } : undefined;
}
export function parseRoleMapping(text: string) {
  const match = /^([^:=]+):([^=]+)=([^:]+)(?::(import|force))?$/.exec(text.trim());
  return match ? { claim: match[1]!, value: match[2]!, role: match[3]!, sync: match[4] ?? 'import' } : undefined;
}
export const claimMappingLine = ({ claim, field, sync }: ClaimMapping) =>
  `${claim}=${field}${sync === 'force' ? ':force' : ''}`;
export const roleMappingLine = ({ claim, value, role, sync }: RoleMapping) =>
  `${claim}:${value}=${role}${sync === 'force' ? ':force' : ''}`;

/** What a sign-in through a provider changes on the account. */
export interface MappedChanges {
  profile: Partial<Record<keyof ProfileFields, string>>;
  /** Roles to hold, and (forced mappings whose value is gone) roles to give up. */
  grant: string[];
  revoke: string[];
}

/** A claim's value as strings: a string, a number, or a list of them; nothing else maps. */
function valuesOf(claim: unknown): string[] {
  if (typeof claim === 'string') return [claim];
  if (typeof claim === 'number' || typeof claim === 'boolean') return [String(claim)];
  if (Array.isArray(claim))
    return claim.filter((item) => typeof item === 'string' || typeof item === 'number').map(String);
  return [];
}

/**
 * The changes the mappings make for this sign-in: at the account's creation every mapping applies;
 * afterwards only `force` ones. A forced role whose value is gone is given up, so what the
 * upstream takes away is taken away here.
 */
export function mappedChanges(
  claims: Record<string, unknown>,
  mappings: { claims: ClaimMapping[]; roles: RoleMapping[] },
  moment: 'creation' | 'sign-in',
): MappedChanges {
  const applies = (sync: 'import' | 'force') => moment === 'creation' || sync === 'force';
  const profile: MappedChanges['profile'] = {};
  for (const mapping of mappings.claims) {
    if (!applies(mapping.sync)) continue;
    const [value] = valuesOf(claims[mapping.claim]);
    if (value !== undefined && value.trim() !== '') profile[mapping.field] = value.trim();
  }
  const grant = new Set<string>();
  const revoke = new Set<string>();
  for (const mapping of mappings.roles) {
    if (!applies(mapping.sync)) continue;
    if (valuesOf(claims[mapping.claim]).includes(mapping.value)) grant.add(mapping.role);
    else if (mapping.sync === 'force') revoke.add(mapping.role);
  }
  // Two mappings to one role: holding either keeps it.
  for (const role of grant) revoke.delete(role);
  return { profile, grant: [...grant], revoke: [...revoke] };
}
