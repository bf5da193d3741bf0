import { normalizeEmail } from './email-address.ts';
import { passwordProblem, type PasswordPolicy } from './password-policy.ts';
import type { PasswordHasher } from './passwords.ts';
import type { SecurityEvent, SecurityEvents } from './security-events.ts';
import type { UserRepository, UserRow } from './user-repository.ts';

export interface NewAccount {
  email: string;
  password: string;
  /** Role names; unsaid, the default roles. */
  roles?: string[];
  emailVerified: boolean;
  /** What the security log records: how the account came to be, and who made it (the new account itself when unsaid). */
  event: Pick<SecurityEvent, 'type' | 'ip' | 'detail'> & { actor?: string };
}

export type AccountCreation =
  { outcome: 'created'; user: UserRow } | { outcome: 'password-refused'; problem: string } | { outcome: 'exists' };

/** The one way an account is made (self sign-up, `latchkey user create`): the policy, one per address, hashed, logged. */
export function accountCreation({
  users,
  passwords,
  policy,
  events,
}: {
  users: UserRepository;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
  events: SecurityEvents;
}) {
  return {
    /** Why a password would be refused for this address, in words for the person; undefined when it is fine. */
    passwordProblem: (password: string, email: string) => passwordProblem(password, email, policy),

    async create(account: NewAccount): Promise<AccountCreation> {
      const email = normalizeEmail(account.email);
      const problem = passwordProblem(account.password, email, policy);
      if (problem) return { outcome: 'password-refused', problem };
      if (await users.findByEmail(email)) return { outcome: 'exists' };
      const passwordHash = await passwords.hash(account.password);
      const user = await users.create({
        email,
        passwordHash,
        roles: account.roles,
        emailVerified: account.emailVerified,
      });
      await events.record({ ...account.event, userId: user.id, actor: account.event.actor ?? user.id });
      return { outcome: 'created', user };
    },
  };
}

export type AccountCreationService = ReturnType<typeof accountCreation>;
