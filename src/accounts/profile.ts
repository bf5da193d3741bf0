import { z } from 'zod';
import type { SecurityEvents } from './security-events.ts';
import type { UserRepository, UserRow } from './user-repository.ts';

/**
 * A person's profile: the OpenID Connect standard claims (Core 5.1) Latchkey keeps, each optional,
 * released for the `profile` scope. `email` and `email_verified` belong to the `email` scope and
 * are not edited here (an address changes only through a proven mailbox).
 */

// eslint-disable-next-line no-control-regex
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;
const text = (max: number) =>
  z.string().trim().max(max, `Use at most ${max} characters.`).regex(NO_CONTROL, 'Use printable characters only.');
/** An empty field clears the claim. */
const optional = (schema: z.ZodType<string, string>) =>
  z
    .string()
    .trim()
    .transform((value) => (value === '' ? null : value))
    .pipe(z.union([z.null(), schema]));

const TIME_ZONES = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);

export const ProfileInput = z.object({
  name: optional(text(200)),
  given_name: optional(text(100)),
  family_name: optional(text(100)),
  preferred_username: optional(
    z
      .string()
      .max(64, 'Use at most 64 characters.')
      .regex(/^[\p{L}\p{N}._-]+$/u, 'Use letters, digits, ".", "_" and "-" only.'),
  ),
  picture: optional(
    z
      .string()
      .max(2048, 'Use at most 2048 characters.')
      .refine((value) => URL.canParse(value) && new URL(value).protocol === 'https:', 'Use an https:// address.'),
  ),
  locale: optional(
    z
      .string()
      .max(35, 'Use a language tag such as en-GB.')
      .refine((value) => {
        try {
          return Intl.getCanonicalLocales(value).length === 1;
        } catch {
          return false;
        }
      }, 'Use a language tag such as en-GB.'),
  ),
  zoneinfo: optional(z.string().refine((value) => TIME_ZONES.has(value), 'Use a time zone such as Europe/Paris.')),
});

export type ProfileFields = { [K in keyof z.infer<typeof ProfileInput>]: string | null };
export const PROFILE_FIELDS = Object.keys(ProfileInput.shape) as Array<keyof ProfileFields>;

/** The claims of the `profile` scope Latchkey returns, as oidc-provider masks them by scope. */
export const PROFILE_CLAIMS = [...PROFILE_FIELDS, 'updated_at'];

/** A stored account's profile fields, by claim name. */
export function profileOf(user: UserRow): ProfileFields {
  return {
    name: user.name,
    given_name: user.givenName,
    family_name: user.familyName,
    preferred_username: user.preferredUsername,
    picture: user.picture,
    locale: user.locale,
    zoneinfo: user.zoneinfo,
  };
}

/** The profile as claims: only the fields that are set, and `updated_at` in seconds once anything was. */
export function profileClaims(user: UserRow): Record<string, string | number> {
  const claims: Record<string, string | number> = {};
  for (const [claim, value] of Object.entries(profileOf(user))) if (value !== null) claims[claim] = value;
  if (user.profileUpdatedAt) claims.updated_at = Math.floor(user.profileUpdatedAt.getTime() / 1000);
  return claims;
}

export type ProfileUpdate =
  | { outcome: 'updated'; profile: ProfileFields }
  | { outcome: 'refused'; problems: Partial<Record<keyof ProfileFields, string>> };

/** Editing a profile: the person's own at /account, anyone's by an administrator. */
export function profiles({ users, events }: { users: UserRepository; events: SecurityEvents }) {
  return {
    /**
     * Checks every field given (missing ones stay as they are; empty ones are cleared), then saves
     * them together, or changes nothing and names each refused field.
     */
    async update(
      userId: string,
      input: Partial<Record<keyof ProfileFields, string>>,
      by: { actor: string; ip?: string },
    ): Promise<ProfileUpdate> {
      const parsed = ProfileInput.partial().safeParse(input);
      if (!parsed.success) {
        const problems: Partial<Record<keyof ProfileFields, string>> = {};
        for (const issue of parsed.error.issues) problems[issue.path[0] as keyof ProfileFields] ??= issue.message;
        return { outcome: 'refused', problems };
      }
      const user = await users.setProfile(userId, parsed.data);
      const fields = Object.keys(parsed.data).join(',');
      await events.record({ type: 'profile.updated', userId, actor: by.actor, ip: by.ip, detail: { fields } });
      return { outcome: 'updated', profile: profileOf(user) };
    },
  };
}

export type Profiles = ReturnType<typeof profiles>;
