import Router from '@koa/router';
import type { Context } from 'koa';
import type { Lockout } from '../../accounts/lockout.ts';
import type { MailTokens, SendBudget } from '../../accounts/mail-tokens.ts';
import type { Mailer } from '../../accounts/mail/mailer.ts';
import { passwordProblem, type PasswordPolicy } from '../../accounts/password-policy.ts';
import type { PasswordHasher } from '../../accounts/passwords.ts';
import type { SecurityEvents } from '../../accounts/security-events.ts';
import type { UserRepository } from '../../accounts/user-repository.ts';
import { notFound } from '../../shared/http/errors.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import type { FormGuard } from '../interactions/form-guard.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';

export interface SelfServiceDependencies {
  users: UserRepository;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
  lockout: Lockout;
  mailer: Mailer;
  events: SecurityEvents;
  tokens: MailTokens;
  budget: SendBudget;
  guard: FormGuard;
  pages: PageRenderer;
  /** Ends every session, grant and refresh token of an account (after a reset). */
  endEverything: (userId: string) => Promise<number>;
  issuerUrl: string;
  signUpEnabled: boolean;
  resetTtlSeconds: number;
}

const VERIFICATION_TTL_SECONDS = 24 * 3_600;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

interface SignUpData {
  email: string;
}

/**
 * The pages reached from a mail, outside any sign-in: password reset and self sign-up with its
 * address confirmation. Each request for mail answers with the same page whether or not the address
 * has an account, after the same work; links open a page with a button, and only its POST acts.
 */
export function selfServiceRoutes(dependencies: SelfServiceDependencies): Router<RequestState> {
  const {
    users,
    passwords,
    policy,
    lockout,
    mailer,
    events,
    tokens,
    budget,
    guard,
    pages,
    endEverything,
    issuerUrl,
    signUpEnabled,
    resetTtlSeconds,
  } = dependencies;
  const router = new Router<RequestState>();
  const message = (
    ctx: Context,
    title: string,
    paragraphs: string[],
    status = 200,
    link?: { href: string; text: string },
  ) => pages.render(ctx, 'message', { title, paragraphs, link }, status);
  const linkGone = (ctx: Context) =>
    message(ctx, 'Link expired', ['This link has expired or was already used. Ask for a new one.'], 410);
  const resetForm = (ctx: Context, token: string, error?: string, status = 200) =>
    pages.render(
      ctx,
      'reset-form',
      { title: 'Choose a new password', token, csrf: guard.browserToken(ctx), minLength: policy.minLength, error },
      status,
    );
  const signUpForm = (ctx: Context, error?: string, status = 200) =>
    pages.render(ctx, 'sign-up', { title: 'Create an account', csrf: guard.browserToken(ctx), error }, status);
  const finishSignUpForm = (ctx: Context, token: string, email: string, error?: string, status = 200) =>
    pages.render(
      ctx,
      'sign-up-finish',
      {
        title: 'Choose your password',
        token,
        email,
        csrf: guard.browserToken(ctx),
        minLength: policy.minLength,
        error,
      },
      status,
    );

  router.get('/reset', (ctx) => {
    pages.render(ctx, 'reset-request', { title: 'Reset your password', csrf: guard.browserToken(ctx) });
  });

  router.post('/reset', async (ctx) => {
    const form = await guard.readBrowserForm(ctx);
    const email = (form.get('email') ?? '').trim().toLowerCase().slice(0, 320);
    const checkEmail = () =>
      message(ctx, 'Check your email', [
        `If an account uses that address, we have sent it a link to choose a new password. The link works for ${Math.round(resetTtlSeconds / 60)} minutes.`,
      ]);
    // The budget comes first: past it, nothing is looked up, stored or sent.
    if (!EMAIL.test(email) || !(await budget.allow('password_reset', email, ctx.ip))) {
      await events.record({
        type: 'password_reset.requested',
        actor: 'anonymous',
        ip: ctx.ip,
        detail: { sent: false, limited: EMAIL.test(email) },
      });
      return checkEmail();
    }
    const user = await users.findByEmail(email);
    const recipient = user && !user.disabledAt ? user : undefined;
    // Locked accounts may reset: the lock is against guessing, and this proves the mailbox instead.
    const token = await tokens.issue('password_reset', recipient?.id ?? `email:${email}`, {}, resetTtlSeconds);
    await events.record({
      type: 'password_reset.requested',
      userId: recipient?.id,
      actor: recipient?.id ?? 'anonymous',
      ip: ctx.ip,
      detail: { sent: recipient !== undefined, limited: false },
    });
    const mail = {
      kind: 'password_reset',
      to: recipient?.email ?? email,
      subject: 'Reset your Latchkey password',
      text: `Someone (hopefully you) asked to reset the password of your Latchkey account.\n\nChoose a new password here; the link works once, for ${Math.round(resetTtlSeconds / 60)} minutes:\n${issuerUrl}/reset/${token}\n\nIf you did not ask, ignore this message: your password stays as it is.`,
    };
    if (recipient) mailer.send(mail);
    else mailer.pretendToSend(mail);
    checkEmail();
  });

  router.get('/reset/:token', async (ctx) => {
    const token = (ctx.params as { token: string }).token;
    const record = await tokens.peek('password_reset', token);
    if (!record || record.subject.startsWith('email:')) return linkGone(ctx);
    resetForm(ctx, token);
  });

  router.post('/reset/:token', async (ctx) => {
    const form = await guard.readBrowserForm(ctx);
    const token = (ctx.params as { token: string }).token;
    const record = await tokens.peek('password_reset', token);
    const user = record && !record.subject.startsWith('email:') ? await users.findById(record.subject) : null;
    if (!user || user.disabledAt) return linkGone(ctx);
    const password = form.get('password') ?? '';
    const problem = passwordProblem(password, user.email, policy);
    // The account changes only once the token and a valid new password are both presented.
    if (problem) return resetForm(ctx, token, problem, 400);
    const passwordHash = await passwords.hash(password);
    if (!(await tokens.consume('password_reset', token))) return linkGone(ctx);
    await users.setPasswordHash(user.id, passwordHash);
    if (!user.emailVerified) await users.setEmailVerified(user.id);
    await lockout.unlock(user.id);
    const ended = await endEverything(user.id);
    await events.record({
      type: 'password.reset',
      userId: user.id,
      actor: user.id,
      ip: ctx.ip,
      detail: { grantsRevoked: ended },
    });
    mailer.send({
      kind: 'password_changed',
      to: user.email,
      subject: 'Your Latchkey password was changed',
      text: `The password of your Latchkey account was just reset, and every device and app was signed out.\n\nIf this was not you, reset it again now (${issuerUrl}/reset) and tell your administrator.`,
    });
    message(
      ctx,
      'Password changed',
      [
        'Your new password is set. Every browser and app signed in to your account was signed out; sign in again with the new password.',
      ],
      200,
      { href: '/account', text: 'Sign in to your account' },
    );
  });

  router.get('/sign-up', (ctx) => {
    if (!signUpEnabled) throw notFound();
    signUpForm(ctx);
  });

  // Sign-up asks for the address alone. The password is chosen on the page the confirmation link
  // opens, so proving the mailbox never installs a credential someone else chose (pre-hijacking),
  // and the account is created only then: nobody can squat on someone else's address. The answer
  // is the same for a new and a taken address (the owner of a taken one is told by mail).
  router.post('/sign-up', async (ctx) => {
    if (!signUpEnabled) throw notFound();
    const form = await guard.readBrowserForm(ctx);
    const email = (form.get('email') ?? '').trim().toLowerCase().slice(0, 320);
    if (!EMAIL.test(email)) return signUpForm(ctx, 'Enter a valid email address.', 400);
    const checkEmail = () =>
      message(ctx, 'Check your email', [
        `We have sent a message to ${email}. Open the link in it to choose your password and finish creating your account.`,
      ]);
    // The budget comes first: past it, nothing is looked up, stored or sent.
    if (!(await budget.allow('sign_up', email, ctx.ip))) {
      await events.record({ type: 'sign_up.requested', actor: 'anonymous', ip: ctx.ip, detail: { limited: true } });
      return checkEmail();
    }
    const existing = await users.findByEmail(email);
    await events.record({
      type: 'sign_up.requested',
      userId: existing?.id,
      actor: 'anonymous',
      ip: ctx.ip,
      detail: { existing: existing !== null, limited: false },
    });
    if (existing) {
      mailer.send({
        kind: 'sign_up_existing',
        to: email,
        subject: 'You already have a Latchkey account',
        text: `Someone (hopefully you) tried to create a Latchkey account with this address, which already has one.\n\nSign in instead, or reset your password: ${issuerUrl}/reset\n\nIf this was not you, ignore this message.`,
      });
      return checkEmail();
    }
    // Each request gets its own link and voids none: a stranger signing up with this address cannot cancel the owner's.
    const token = await tokens.issue<SignUpData>(
      'email_verification',
      `sign-up:${email}`,
      { email },
      VERIFICATION_TTL_SECONDS,
      { newestOnly: false },
    );
    mailer.send({
      kind: 'verify_email',
      to: email,
      subject: 'Confirm your email address for Latchkey',
      text: `Confirm this address and choose your password to finish creating your Latchkey account (the link works for 24 hours):\n${issuerUrl}/verify-email/${token}\n\nIf you did not sign up, ignore this message and no account is created.`,
    });
    checkEmail();
  });

  router.get('/verify-email/:token', async (ctx) => {
    const token = (ctx.params as { token: string }).token;
    const record = await tokens.peek<SignUpData>('email_verification', token);
    if (!record) return linkGone(ctx);
    finishSignUpForm(ctx, token, record.data.email);
  });

  router.post('/verify-email/:token', async (ctx) => {
    const form = await guard.readBrowserForm(ctx);
    const token = (ctx.params as { token: string }).token;
    const pending = await tokens.peek<SignUpData>('email_verification', token);
    if (!pending) return linkGone(ctx);
    // Only the address is taken from the pending sign-up; whatever else an older record carries is ignored.
    const { email } = pending.data;
    const password = form.get('password') ?? '';
    const problem = passwordProblem(password, email, policy);
    if (problem) return finishSignUpForm(ctx, token, email, problem, 400);
    const passwordHash = await passwords.hash(password);
    if (!(await tokens.consume('email_verification', token))) return linkGone(ctx);
    if (await users.findByEmail(email)) {
      return message(
        ctx,
        'Account already exists',
        ['This address already has an account. Sign in, or reset the password if you have forgotten it.'],
        409,
        { href: '/account', text: 'Sign in' },
      );
    }
    const user = await users.create({ email, passwordHash, role: 'user', emailVerified: true });
    await events.record({
      type: 'account.created',
      userId: user.id,
      actor: user.id,
      ip: ctx.ip,
      detail: { via: 'sign_up' },
    });
    message(
      ctx,
      'Your account is ready',
      ['Your address is confirmed and your account is created. You can now sign in.'],
      200,
      { href: '/account', text: 'Go to your account' },
    );
  });

  return router;
}
