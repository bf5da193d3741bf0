import type { AccountCreationService } from './account-creation.ts';
import { returnClientId, type MailTokens, type SendBudget } from './mail-tokens.ts';
import type { Mailer } from './mail/mailer.ts';
import { confirmSignUp, signUpForExistingAccount } from './mail/messages.ts';
import type { SecurityEvents } from './security-events.ts';
import type { UserRepository } from './user-repository.ts';

const VERIFICATION_TTL_SECONDS = 24 * 3_600;

interface SignUpData {
  email: string;
  /** The application the person signed up from, to send them back to; never trusted for anything else. */
  clientId?: string;
}

export interface SignUpOptions {
  users: UserRepository;
  accounts: AccountCreationService;
  links: MailTokens;
  budget: SendBudget;
  mailer: Mailer;
  events: SecurityEvents;
  issuerUrl: string;
}

export type SignUpResult =
  | { outcome: 'created'; clientId: string | undefined }
  | { outcome: 'link-gone' }
  | { outcome: 'exists' }
  | { outcome: 'password-refused'; problem: string };

/**
 * Self sign-up asks for the address alone. The password is chosen on the page the confirmation
 * link opens, so proving the mailbox never installs a credential someone else chose
 * (pre-hijacking), and the account is created only then: nobody can squat on someone else's
 * address. The answer is the same for a new and a taken address (the owner of a taken one is told by mail).
 */
export function signUp({ users, accounts, links, budget, mailer, events, issuerUrl }: SignUpOptions) {
  return {
    /** `email` must be plausible already (the form says so before anything is counted). */
    async request(email: string, ip: string, clientId?: string): Promise<void> {
      // The budget comes first: past it, nothing is looked up, stored or sent.
      if (!(await budget.allow('sign_up', email, ip))) {
        await events.record({ type: 'sign_up.requested', actor: 'anonymous', ip, detail: { limited: true } });
        return;
      }
      const existing = await users.findByEmail(email);
      const detail = { existing: existing !== null, limited: false };
      await events.record({ type: 'sign_up.requested', userId: existing?.id, actor: 'anonymous', ip, detail });
      if (existing) return mailer.send({ to: email, ...signUpForExistingAccount(issuerUrl) });
      // Each request gets its own link and voids none: a stranger signing up with this address cannot cancel the owner's.
      const token = await links.issue<SignUpData>(
        'email_verification',
        `sign-up:${email}`,
        { email, ...(clientId ? { clientId } : {}) },
        VERIFICATION_TTL_SECONDS,
        { newestOnly: false },
      );
      mailer.send({ to: email, ...confirmSignUp(`${issuerUrl}/verify-email/${token}`) });
    },

    /** The address a live confirmation link is for, and the application it was asked for from. */
    async pending(token: string): Promise<{ email: string; clientId: string | undefined } | undefined> {
      const data = (await links.peek<SignUpData>('email_verification', token))?.data;
      return data && { email: data.email, clientId: returnClientId(data) };
    },

    async complete(token: string, password: string, ip: string): Promise<SignUpResult> {
      const pending = await links.peek<SignUpData>('email_verification', token);
      if (!pending) return { outcome: 'link-gone' };
      // Only the address is taken from the pending sign-up; whatever else an older record carries is ignored.
      const { email } = pending.data;
      const clientId = returnClientId(pending.data);
      const problem = accounts.passwordProblem(password, email);
      // The link is used up only by an acceptable password.
      if (problem) return { outcome: 'password-refused', problem };
      if (!(await links.consume('email_verification', token))) return { outcome: 'link-gone' };
      const event = { type: 'account.created' as const, ip, detail: { via: 'sign_up' } };
      const created = await accounts.create({ email, password, emailVerified: true, event });
      return created.outcome === 'created' ? { outcome: 'created', clientId } : created;
    },
  };
}

export type SignUp = ReturnType<typeof signUp>;
