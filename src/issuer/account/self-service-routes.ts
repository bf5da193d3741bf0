import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { emailFromForm, isPlausibleEmail } from '../../accounts/email-address.ts';
import type { PasswordPolicy } from '../../accounts/password-policy.ts';
import type { PasswordReset } from '../../accounts/password-reset.ts';
import type { SignUp } from '../../accounts/sign-up.ts';
import type { WayForward } from '../../shared/http/errors.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { pageNotFound } from '../http/page-errors.ts';
import type { FormGuard } from '../interactions/form-guard.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import { backToSignIn, type Origin, originFrom, wayBack } from './way-back.ts';

export interface SelfServiceDependencies {
  reset: PasswordReset;
  signUp: SignUp;
  policy: PasswordPolicy;
  forms: FormGuard;
  pages: PageRenderer;
  signUpEnabled: boolean;
  resetTtlSeconds: number;
  /** To find the application a flow started from, for the way back to it. */
  provider: () => Provider;
}

const tokenOf = (ctx: Context) => (ctx.params as { token: string }).token;
const ASK_AGAIN_FOR_RESET: WayForward = { href: '/reset', text: 'Ask for a new link' };
const ASK_AGAIN_FOR_SIGN_UP: WayForward = { href: '/sign-up', text: 'Ask for a new link' };

/**
 * The pages reached from a mail, outside any sign-in: password reset, and self sign-up with its
 * address confirmation. Links open a page with a button; only its POST acts. Each page has a way
 * forward: back to the sign-in it was opened from, or on into the application that sent the person.
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
  const message = (ctx: Context, title: string, paragraphs: string[], status = 200, link?: WayForward) =>
    pages.render(ctx, 'message', { title, paragraphs, link }, status);
  const passwordForm = (ctx: Context, view: string, title: string, data: Record<string, unknown>, status = 200) =>
    pages.render(ctx, view, { title, csrf: forms.browserToken(ctx), minLength: policy.minLength, ...data }, status);
  /** A request form (sign-up, reset): it carries the origin on, and leads back to the sign-in. */
  const requestForm = (ctx: Context, view: string, title: string, origin: Origin, typed: Typed = {}, status = 200) =>
    pages.render(
      ctx,
      view,
      { title, csrf: forms.browserToken(ctx), origin, back: backToSignIn(origin), ...typed },
      status,
    );
  return {
    message,
    linkGone: (ctx: Context, askAgain: WayForward) =>
      message(ctx, 'Link expired', ['This link has expired or was already used. Ask for a new one.'], 410, askAgain),
    resetRequestForm: (ctx: Context, origin: Origin) =>
      requestForm(ctx, 'reset-request', 'Reset your password', origin),
    resetForm: (ctx: Context, token: string, error?: string, status = 200) =>
      passwordForm(ctx, 'reset-form', 'Choose a new password', { token, error }, status),
    finishSignUpForm: (ctx: Context, token: string, email: string, error?: string, status = 200) =>
      passwordForm(ctx, 'sign-up-finish', 'Choose your password', { token, email, error }, status),
    signUpForm: (ctx: Context, origin: Origin, typed?: Typed, status = 200) =>
      requestForm(ctx, 'sign-up', 'Create an account', origin, typed, status),
  };
}

/** What a refused form shows again: the refusal, and the address as typed so nobody types it twice. */
interface Typed {
  error?: string;
  email?: string;
}

function resetRoutes({ router, page, reset, forms, resetTtlSeconds, provider }: Parts): void {
  const { message, linkGone, resetForm, resetRequestForm } = page;
  router.get('/reset', (ctx) => resetRequestForm(ctx, originFrom(ctx.URL.searchParams)));

  // The same answer whether or not the address has an account.
  router.post('/reset', async (ctx) => {
    const form = await forms.readBrowserForm(ctx);
    const origin = originFrom(form);
    await reset.request(emailFromForm(form.get('email')), ctx.ip, origin.clientId);
    const minutes = Math.round(resetTtlSeconds / 60);
    message(
      ctx,
      'Check your email',
      [
        `If an account uses that address, we have sent it a link to choose a new password. The link works for ${minutes} minutes.`,
      ],
      200,
      backToSignIn(origin),
    );
  });

  router.get('/reset/:token', async (ctx) => {
    if (!(await reset.isLive(tokenOf(ctx)))) return linkGone(ctx, ASK_AGAIN_FOR_RESET);
    resetForm(ctx, tokenOf(ctx));
  });

  router.post('/reset/:token', async (ctx) => {
    const form = await forms.readBrowserForm(ctx);
    const result = await reset.complete(tokenOf(ctx), form.get('password') ?? '', ctx.ip);
    if (result.outcome === 'link-gone') return linkGone(ctx, ASK_AGAIN_FOR_RESET);
    if (result.outcome === 'password-refused') return resetForm(ctx, tokenOf(ctx), result.problem, 400);
    const signedOut =
      'Every browser and app signed in to your account was signed out; sign in again with the new password.';
    const onward = await wayBack(provider, result.clientId);
    message(ctx, 'Password changed', [`Your new password is set. ${signedOut}`], 200, onward);
  });
}

function signUpRoutes({ router, page, signUp, forms, signUpEnabled, provider }: Parts): void {
  const { message, linkGone, finishSignUpForm, signUpForm } = page;
  router.get('/sign-up', (ctx) => {
    if (!signUpEnabled) throw pageNotFound();
    signUpForm(ctx, originFrom(ctx.URL.searchParams));
  });

  router.post('/sign-up', async (ctx) => {
    if (!signUpEnabled) throw pageNotFound();
    const form = await forms.readBrowserForm(ctx);
    const origin = originFrom(form);
    const email = emailFromForm(form.get('email'));
    if (!isPlausibleEmail(email))
      return signUpForm(ctx, origin, { error: 'Enter a valid email address.', email: form.get('email') ?? '' }, 400);
    await signUp.request(email, ctx.ip, origin.clientId);
    const words = `We have sent a message to ${email}. Open the link in it to choose your password and finish creating your account.`;
    message(ctx, 'Check your email', [words], 200, backToSignIn(origin));
  });

  router.get('/verify-email/:token', async (ctx) => {
    const pending = await signUp.pending(tokenOf(ctx));
    if (pending === undefined) return linkGone(ctx, ASK_AGAIN_FOR_SIGN_UP);
    finishSignUpForm(ctx, tokenOf(ctx), pending.email);
  });

  router.post('/verify-email/:token', async (ctx) => {
    const form = await forms.readBrowserForm(ctx);
    const result = await signUp.complete(tokenOf(ctx), form.get('password') ?? '', ctx.ip);
    if (result.outcome === 'link-gone') return linkGone(ctx, ASK_AGAIN_FOR_SIGN_UP);
    if (result.outcome === 'password-refused') {
      const email = (await signUp.pending(tokenOf(ctx)))?.email ?? '';
      return finishSignUpForm(ctx, tokenOf(ctx), email, result.problem, 400);
    }
    if (result.outcome === 'exists') {
      const words = 'This address already has an account. Sign in, or reset the password if you have forgotten it.';
      return message(ctx, 'Account already exists', [words], 409, { href: '/account', text: 'Sign in' });
    }
    const words = 'Your address is confirmed and your account is created. Sign in with it now.';
    message(ctx, 'Your account is ready', [words], 200, await wayBack(provider, result.clientId));
  });
}
