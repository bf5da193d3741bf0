import { isDependencyFailure } from '../shared/resilience/dependency-failure.ts';
import { profileClaims } from './profile.ts';
import type { UserRepository, UserRow } from './user-repository.ts';

/** What oidc-provider and our token claims need to know of a signed-in person. */
export interface Account {
  accountId: string;
  roles: string[];
  claims(): { sub: string; email: string; email_verified: boolean } & Record<string, string | number | boolean>;
}

export function toAccount(user: UserRow & { roleNames: string[] }): Account {
  return {
    accountId: user.id,
    roles: user.roleNames,
    claims: () => ({ sub: user.id, email: user.email, email_verified: user.emailVerified, ...profileClaims(user) }),
  };
}

/** A disabled account is not found: its sessions, refresh tokens and device approvals stop at once. */
export async function findActiveAccount(users: UserRepository, id: string): Promise<Account | undefined> {
  // An id that is not a user id (not a UUID) finds no one; an outage is an outage, not "no such account".
  const user = await users.findWithRoles(id).catch((error: unknown) => {
    if (isDependencyFailure(error)) throw error;
    return null;
  });
  if (!user || user.disabledAt) return undefined;
  return toAccount(user);
}
