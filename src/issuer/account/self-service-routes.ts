import Router from '@koa/router';
import type { Context } from 'koa';
import { emailFromForm, isPlausibleEmail } from '../../accounts/email-address.ts';
import type { PasswordPolicy } from '../../accounts/password-policy.ts';
import type { PasswordReset } from '../../accounts/password-reset.ts';
import type { SignUp } from '../../accounts/sign-up.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { pageNotFound, WAY_TO_ACCOUNT } from '../http/page-errors.ts';
import type { FormGuard } from '../interactions/form-guard.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';

export interface SelfServiceDependencies {
  reset: PasswordReset;
  signUp: SignUp;
  policy: PasswordPolicy;
  forms: FormGuard;
  pages: PageRenderer;
  signUpEnabled: boolean;
  resetTtlSeconds: number;
}

const tokenOf = (ctx: Context) => (ctx.params as { token: string }).token;

/**
 * The pages reached from a mail, outside any sign-in: password reset, and self sign-up with its
 * address confirmation. Links open a page with a button; only its POST acts.
 */
type Parts = SelfServiceDependencies & { router: Router<RequestState>; page: ReturnType<typeof selfServicePages> };

export function selfServiceRoutes(dependencies: SelfServiceDependencies): Router<RequestState> {
  const parts: Parts = { ...dependencies, router: new Router<RequestState>(), page: selfServicePages(dependencies) };
  resetRoutes(parts);
  signUpRoutes(parts);
  return parts.router;
}

/** The pages of both flows, each with its form token. */
function selfServicePages({ policy, forms, pages }: SelfServiceDependencies) {
  const message = (
    ctx: Context,
    title: string,
    paragraphs: string[],
    status = 200,
    link?: { href: string; text: string },
  ) => pages.render(ctx, 'message', { title, paragraphs, link }, status);
  const passwordForm = (ctx: Context, view: string, title: string, data: Record<string, unknown>, status = 200) =>
    pages.render(ctx, view, { title, csrf: forms.browserToken(ctx), minLength: policy.minLength, ...data }, status);
  return {
    message,
    linkGone: (ctx: Context) =>
      message(ctx, 'Link expired', ['This link has expired or was already used. Ask for a new one.'], 410),
    resetForm: (ctx: Context, token: string, error?: string, status = 200) =>
      passwordForm(ctx, 'reset-form', 'Choose a new password', { token, error }, status),
    finishSignUpForm: (ctx: Context, token: string, email: string, error?: string, status = 200) =>
      passwordForm(ctx, 'sign-up-finish', 'Choose your password', { token, email, error }, status),
    signUpForm: (ctx: Context, error?: string, status = 200) =>
      pages.render(ctx, 'sign-up', { title: 'Create an account', csrf: forms.browserToken(ctx), error }, status),
  };
}

function resetRoutes({ router, page, reset, forms, pages, resetTtlSeconds }: Parts): void {
  const { message, linkGone, resetForm } = page;
  router.get('/reset', (ctx) => {
    pages.render(ctx, 'reset-request', { title: 'Reset your password', csrf: forms.browserToken(ctx) });
  });

  // The same answer whether or not the address has an account.
  router.post('/reset', async (ctx) => {
    const form = await forms.readBrowserForm(ctx);
    await reset.request(emailFromForm(form.get('email')), ctx.ip);
    const minutes = Math.round(resetTtlSeconds / 60);
    message(ctx, 'Check your email', [
      `If an account uses that address, we have sent it a link to choose a new password. The link works for ${minutes} minutes.`,
    ]);
  });

  router.get('/reset/:token', async (ctx) => {
    if (!(await reset.isLive(tokenOf(ctx)))) return linkGone(ctx);
    resetForm(ctx, tokenOf(ctx));
  });

  router.post('/reset/:token', async (ctx) => {
    const form = await forms.readBrowserForm(ctx);
    const result = await reset.complete(tokenOf(ctx), form.get('password') ?? '', ctx.ip);
    if (result.outcome === 'link-gone') return linkGone(ctx);
    if (result.outcome === 'password-refused') return resetForm(ctx, tokenOf(ctx), result.problem, 400);
    const signedOut =
      'Every browser and app signed in to your account was signed out; sign in again with the new password.';
    message(ctx, 'Password changed', [`Your new password is set. ${signedOut}`], 200, {
      href: '/account',
      text: 'Sign in to your account',
    });
  });
}

function signUpRoutes({ router, page, signUp, forms, signUpEnabled }: Parts): void {
  const { message, linkGone, finishSignUpForm, signUpForm } = page;
  router.get('/sign-up', (ctx) => {
    if (!signUpEnabled) throw pageNotFound();
    signUpForm(ctx);
  });

  router.post('/sign-up', async (ctx) => {
    if (!signUpEnabled) throw pageNotFound();
    const form = await forms.readBrowserForm(ctx);
    const email = emailFromForm(form.get('email'));
    if (!isPlausibleEmail(email)) return signUpForm(ctx, 'Enter a valid email address.', 400);
    await signUp.request(email, ctx.ip);
    message(ctx, 'Check your email', [
      `We have sent a message to ${email}. Open the link in it to choose your password and finish creating your account.`,
    ]);
  });

  router.get('/verify-email/:token', async (ctx) => {
    const email = await signUp.pendingAddress(tokenOf(ctx));
    if (email === undefined) return linkGone(ctx);
    finishSignUpForm(ctx, tokenOf(ctx), email);
  });

  router.post('/verify-email/:token', async (ctx) => {
    const form = await forms.readBrowserForm(ctx);
    const result = await signUp.complete(tokenOf(ctx), form.get('password') ?? '', ctx.ip);
    if (result.outcome === 'link-gone') return linkGone(ctx);
    if (result.outcome === 'password-refused') {
      const email = (await signUp.pendingAddress(tokenOf(ctx))) ?? '';
      return finishSignUpForm(ctx, tokenOf(ctx), email, result.problem, 400);
    }
    if (result.outcome === 'exists') {
      const words = 'This address already has an account. Sign in, or reset the password if you have forgotten it.';
      return message(ctx, 'Account already exists', [words], 409, { href: '/account', text: 'Sign in' });
    }
    const words = 'Your address is confirmed and your account is created. You can now sign in.';
    message(ctx, 'Your account is ready', [words], 200, { ...WAY_TO_ACCOUNT, text: 'Go to your account' });
  });
}
