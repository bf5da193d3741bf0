import type { PrismaClient } from '../../shared/database/generated/issuer/client.ts';
import { isPlausibleEmail, normalizeEmail } from '../email-address.ts';
import type { Profiles } from '../profile.ts';
import type { SecurityEvents } from '../security-events.ts';
import type { SignInCore, SignInResult } from '../sign-in/sign-in.ts';
import type { UserRepository, UserRow } from '../user-repository.ts';
import { mappedChanges, type ClaimMapping, type RoleMapping } from './mappings.ts';

/** What the accounts domain needs to know of an upstream provider. */
export interface FederationProvider {
  id: string;
  slug: string;
  name: string;
  allowSignUp: boolean;
  allowedDomains: string[];
  trustEmailVerified: boolean;
  trustMfa: boolean;
  claimMappings: ClaimMapping[];
  roleMappings: RoleMapping[];
}

/** Who the upstream says the person is (its answer already checked). */
export interface FederatedPerson {
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
  claims: Record<string, unknown>;
  amr: string[];
}

/** Why a federated sign-in is refused, each a page the person can act on. */
export type FederationRefusal = 'domain_not_allowed' | 'account_disabled' | 'sign_up_closed' | 'no_email';

export type FederationOutcome =
  | SignInResult
  /** A local account has this address: its owner must prove it before the identity is linked. */
  | { outcome: 'link-required'; email: string }
  | { outcome: 'federation-refused'; reason: FederationRefusal };

export interface FederatedSignInOptions {
  db: PrismaClient;
  users: UserRepository;
  core: SignInCore;
  profiles: Profiles;
  roles: {
    assign(holder: { userId: string }, names: string[]): Promise<unknown>;
    unassign(holder: { userId: string }, names: string[]): Promise<unknown>;
  };
  events: SecurityEvents;
}

const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1);

/**
 * Sign-in through another identity provider, linked to local accounts safely: an upstream account
 * is found by (provider, subject) and never by email. A first sign-in whose address belongs to a
 * local account links nothing until that account's owner proves it (the password, through the
 * sign-in's lockout); an address nobody has makes an account when the provider allows it, confirmed
 * only if the provider is trusted for that and says so. The mappings shape the account at creation,
 * and their `force` ones at every sign-in.
 */
export function federatedSignIn({ db, users, core, profiles, roles, events }: FederatedSignInOptions) {
  async function applyMappings(
    user: UserRow,
    provider: FederationProvider,
    person: FederatedPerson,
    moment: 'creation' | 'sign-in',
  ) {
    const changes = mappedChanges(
      person.claims,
      { claims: provider.claimMappings, roles: provider.roleMappings },
      moment,
    );
    const fields = Object.keys(changes.profile);
    if (fields.length) {
      // A value the profile rules refuse (a picture over http) is left out, never the whole sign-in.
      const result = await profiles.update(user.id, changes.profile, { actor: `upstream:${provider.slug}` });
      if (result.outcome === 'refused') {
        const accepted = Object.fromEntries(
          Object.entries(changes.profile).filter(([field]) => !(field in result.problems)),
        );
        if (Object.keys(accepted).length)
          await profiles.update(user.id, accepted, { actor: `upstream:${provider.slug}` });
      }
    }
    if (changes.grant.length) await roles.assign({ userId: user.id }, changes.grant);
    if (changes.revoke.length) await roles.unassign({ userId: user.id }, changes.revoke);
    if (fields.length || changes.grant.length || changes.revoke.length)
      await events.record({
        type: 'federation.mapped',
        userId: user.id,
        actor: `upstream:${provider.slug}`,
        detail: {
          provider: provider.slug,
          moment,
          fields: fields.join(' ') || null,
          rolesGranted: changes.grant.join(' ') || null,
          rolesRevoked: changes.revoke.join(' ') || null,
        },
      });
  }

  /** The sign-in is through a linked identity: the account's own second factor still applies, unless the provider is trusted for MFA and used it. */
  async function signInAs(
    signInId: string,
    user: UserRow,
    provider: FederationProvider,
    person: FederatedPerson,
    ip: string,
  ) {
    if (provider.trustMfa && person.amr.includes('mfa'))
      return core.completeInOneStep(user.id, ['fed', 'mfa'], `federated:${provider.slug}+upstream_mfa`, ip);
    return core.afterFirstFactor(signInId, user, 'fed', ip);
  }

  async function link(userId: string, provider: FederationProvider, person: FederatedPerson, ip: string | undefined) {
    await db.federatedIdentity.create({
      data: {
        providerId: provider.id,
        subject: person.subject,
        userId,
        email: person.email ?? null,
        lastSignInAt: new Date(),
      },
    });
    await events.record({
      type: 'federation.linked',
      userId,
      actor: userId,
      ip,
      detail: { provider: provider.slug },
    });
  }

  return {
    async signIn(
      signInId: string,
      provider: FederationProvider,
      person: FederatedPerson,
      ip: string,
    ): Promise<FederationOutcome> {
      const linked = await db.federatedIdentity.findUnique({
        where: { providerId_subject: { providerId: provider.id, subject: person.subject } },
        include: { user: true },
      });
      if (linked) {
        if (linked.user.disabledAt) {
          await events.record({
            type: 'sign_in.failed',
            userId: linked.userId,
            actor: linked.userId,
            ip,
            detail: { reason: 'disabled', method: `federated:${provider.slug}` },
          });
          return { outcome: 'federation-refused', reason: 'account_disabled' };
        }
        await db.federatedIdentity.update({ where: { id: linked.id }, data: { lastSignInAt: new Date() } });
        await applyMappings(linked.user, provider, person, 'sign-in');
        return signInAs(signInId, (await users.findById(linked.userId)) ?? linked.user, provider, person, ip);
      }
      const email = person.email && isPlausibleEmail(person.email) ? normalizeEmail(person.email) : undefined;
      if (!email) return { outcome: 'federation-refused', reason: 'no_email' };
      if (provider.allowedDomains.length && !provider.allowedDomains.includes(domainOf(email))) {
        await events.record({
          type: 'federation.refused',
          actor: 'anonymous',
          ip,
          detail: { provider: provider.slug, reason: 'domain_not_allowed' },
        });
        return { outcome: 'federation-refused', reason: 'domain_not_allowed' };
      }
      const existing = await users.findByEmail(email);
      if (existing) {
        // Never linked by address alone: whoever controls this upstream account may not own the local one.
        await events.record({
          type: 'federation.link_required',
          userId: existing.id,
          actor: 'anonymous',
          ip,
          detail: { provider: provider.slug },
        });
        return { outcome: 'link-required', email };
      }
      if (!provider.allowSignUp) return { outcome: 'federation-refused', reason: 'sign_up_closed' };
      const user = await users.create({
        email,
        passwordHash: null,
        emailVerified: provider.trustEmailVerified && person.emailVerified,
      });
      await events.record({
        type: 'account.created',
        userId: user.id,
        actor: user.id,
        ip,
        detail: { via: `federated:${provider.slug}` },
      });
      await link(user.id, provider, person, ip);
      await applyMappings(user, provider, person, 'creation');
      return signInAs(signInId, user, provider, person, ip);
    },

    /** Links after the owner proved the local account; forced mappings apply, as at any sign-in. */
    async linkProven(
      userId: string,
      provider: FederationProvider,
      person: FederatedPerson,
      ip: string,
    ): Promise<'linked' | 'taken'> {
      const taken = await db.federatedIdentity.findUnique({
        where: { providerId_subject: { providerId: provider.id, subject: person.subject } },
      });
      if (taken) return taken.userId === userId ? 'linked' : 'taken';
      await link(userId, provider, person, ip);
      const user = await users.findById(userId);
      if (user) await applyMappings(user, provider, person, 'sign-in');
      return 'linked';
    },

    identitiesOf: (userId: string) =>
      db.federatedIdentity.findMany({ where: { userId }, include: { provider: true }, orderBy: { createdAt: 'asc' } }),

    /** Unlinks, unless it is the account's last way to sign in (no password, no passkey, no other link). */
    async unlink(userId: string, identityId: string, ip: string): Promise<'unlinked' | 'last-method' | 'not-found'> {
      const identity = await db.federatedIdentity.findFirst({
        where: { id: identityId, userId },
        include: { provider: true },
      });
      if (!identity) return 'not-found';
      const [user, passkeys, links] = await Promise.all([
        users.findById(userId),
        db.passkey.count({ where: { userId } }),
        db.federatedIdentity.count({ where: { userId } }),
      ]);
      if (!user?.passwordHash && passkeys === 0 && links <= 1) return 'last-method';
      await db.federatedIdentity.delete({ where: { id: identity.id } });
      await events.record({
        type: 'federation.unlinked',
        userId,
        actor: userId,
        ip,
        detail: { provider: identity.provider.slug },
      });
      return 'unlinked';
    },
  };
}

export type FederatedSignIn = ReturnType<typeof federatedSignIn>;
