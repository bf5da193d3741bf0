import { isPlausibleEmail } from './email-address.ts';
import type { Lockout } from './lockout.ts';
import { returnClientId, type MailTokens, type SendBudget } from './mail-tokens.ts';
import type { Mailer } from './mail/mailer.ts';
import { passwordReset as resetMail, passwordWasReset } from './mail/messages.ts';
import { passwordProblem, type PasswordPolicy } from './password-policy.ts';
import type { PasswordHasher } from './passwords.ts';
import type { SecurityEvents } from './security-events.ts';
import type { UserRepository, UserRow } from './user-repository.ts';

export interface PasswordResetOptions {
  users: UserRepository;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
  lockout: Lockout;
  links: MailTokens;
  budget: SendBudget;
  mailer: Mailer;
  events: SecurityEvents;
  /** Ends every session, grant and refresh token of an account; returns how many grants ended. */
  signOutEverywhere: (userId: string) => Promise<number>;
  issuerUrl: string;
  ttlSeconds: number;
}

export type ResetResult =
  | { outcome: 'reset'; clientId: string | undefined }
  | { outcome: 'link-gone' }
  | { outcome: 'password-refused'; problem: string };

/**
 * Password reset by a mailed link. Asking answers the same whether or not the address has an
 * account, after the same work (a token is made and a mail composed either way). The account
 * changes only once the link and an acceptable new password come together; then the lock is lifted
 * (the mailbox is proven), the address counts as verified, and everything signed in is signed out.
 */
export function passwordReset(options: PasswordResetOptions) {
  const { users, passwords, policy, lockout, links, budget, mailer, events, signOutEverywhere, issuerUrl, ttlSeconds } =
    options;

  /** The account a live link is for (undefined for a used, expired or unknown-address link), and where it was asked from. */
  async function accountOf(token: string): Promise<{ user?: UserRow; clientId?: string }> {
    const record = await links.peek<{ clientId?: unknown }>('password_reset', token);
    if (!record || record.subject.startsWith('email:')) return {};
    const user = await users.findById(record.subject);
    const clientId = returnClientId(record.data);
    return user && !user.disabledAt ? { user, ...(clientId ? { clientId } : {}) } : {};
  }

  return {
    /** `clientId`: the application the person came from, for the way back after the reset. */
    async request(email: string, ip: string, clientId?: string): Promise<void> {
      // The budget comes first: past it, nothing is looked up, stored or sent.
      if (!isPlausibleEmail(email) || !(await budget.allow('password_reset', email, ip))) {
        const detail = { sent: false, limited: isPlausibleEmail(email) };
        await events.record({ type: 'password_reset.requested', actor: 'anonymous', ip, detail });
        return;
      }
      const user = await users.findByEmail(email);
      const recipient = user && !user.disabledAt ? user : undefined;
      // Locked accounts may reset: the lock is against guessing, and this proves the mailbox instead.
      const data = clientId ? { clientId } : {};
      const token = await links.issue('password_reset', recipient?.id ?? `email:${email}`, data, ttlSeconds);
      const detail = { sent: recipient !== undefined, limited: false };
      await events.record({
        type: 'password_reset.requested',
        userId: recipient?.id,
        actor: recipient?.id ?? 'anonymous',
        ip,
        detail,
      });
      const mail = { to: recipient?.email ?? email, ...resetMail(`${issuerUrl}/reset/${token}`, ttlSeconds) };
      if (recipient) mailer.send(mail);
      else mailer.pretendToSend(mail);
    },

    isLive: async (token: string): Promise<boolean> => {
      const record = await links.peek('password_reset', token);
      return record !== undefined && !record.subject.startsWith('email:');
    },

    async complete(token: string, password: string, ip: string): Promise<ResetResult> {
      const { user, clientId } = await accountOf(token);
      if (!user) return { outcome: 'link-gone' };
      const problem = passwordProblem(password, user.email, policy);
      if (problem) return { outcome: 'password-refused', problem };
      const passwordHash = await passwords.hash(password);
      if (!(await links.consume('password_reset', token))) return { outcome: 'link-gone' };
      await users.setPasswordHash(user.id, passwordHash);
      if (!user.emailVerified) await users.setEmailVerified(user.id);
      await lockout.unlock(user.id);
      const ended = await signOutEverywhere(user.id);
      await events.record({
        type: 'password.reset',
        userId: user.id,
        actor: user.id,
        ip,
        detail: { grantsRevoked: ended },
      });
      mailer.send({ to: user.email, ...passwordWasReset(issuerUrl) });
      return { outcome: 'reset', clientId };
    },
  };
}

export type PasswordReset = ReturnType<typeof passwordReset>;
