import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { emailFromForm, isPlausibleEmail } from '../../accounts/email-address.ts';
import type { MagicLinkSignIn } from '../../accounts/sign-in/magic-link.ts';
import type { PasswordSignIn } from '../../accounts/sign-in/password-sign-in.ts';
import type { SecondFactorStep } from '../../accounts/sign-in/second-factor-step.ts';
import type { CompletedSignIn, Requester, SignInResult } from '../../accounts/sign-in/sign-in.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import { signInExpired, stepAlreadyDone } from '../http/page-errors.ts';
import type { PageData, PageRenderer } from '../pages/page-renderer.ts';
import { describeScopes } from '../pages/scope-words.ts';
import { consentResult, requestedScopes } from './consent.ts';
import type { DeviceCookies } from './device-cookie.ts';
import type { FormGuard } from './form-guard.ts';

export interface InteractionDependencies {
  provider: () => Provider;
  password: PasswordSignIn;
  secondFactor: SecondFactorStep;
  magicLink: MagicLinkSignIn;
  devices: DeviceCookies;
  forms: FormGuard;
  pages: PageRenderer;
  issuerUrl: string;
  signUpEnabled: boolean;
}

const WRONG_PASSWORD = 'That email and password do not match an active account.';
const WRONG_SECOND_FACTOR = 'That code was not accepted. Try the current code, or a recovery code.';
/** Nothing was checked (too soon after a failure, or too many checks at once): no verdict on the secret. */
const TRY_AGAIN_SHORTLY = 'Too many attempts just now. Wait a few seconds, then try again.';
const LINK_GONE = 'This sign-in link has expired or was already used. Ask for a new one on the sign-in page.';
const WRONG_MAGIC_CODE = 'That code was not accepted. Open the link from the email again to see the current code.';
const TOO_MANY_MAGIC_CODES = 'Too many wrong codes. Go back to sign-in and ask for a new link.';

/** An OIDC `login_hint` that looks like an email address (anything else is ignored, as the spec allows). */
const hintedEmail = (hint: unknown) => (typeof hint === 'string' && isPlausibleEmail(hint) ? hint : undefined);

/**
 * The sign-in steps oidc-provider hands over to us: email and password or an emailed link, then the
 * second factor when the account has one, then consent for third-party clients (first-party ones
 * were granted in loadExistingGrant). Each route reads its form (origin and token checked), asks
 * the accounts domain, and answers with a page or a 303 back into the provider.
 */
export function interactionRoutes(dependencies: InteractionDependencies): Router<RequestState> {
  const { provider, password, secondFactor, magicLink, devices, forms, pages, issuerUrl, signUpEnabled } = dependencies;
  const router = new Router<RequestState>();
  const clientNameOf = async (clientId: unknown) =>
    (await provider().Client.find(String(clientId)))?.clientName ?? 'an application';
  const requester = (ctx: Context): Requester => ({
    ip: ctx.ip,
    trustedDevice: (userId) => devices.trustedFor(ctx, userId),
  });
  const render = (ctx: Context, view: string, data: PageData, status = 200) => pages.render(ctx, view, data, status);

  /** The sign-in form; `email` fills the address in (a `login_hint`, or what was typed before a refusal). */
  const loginPage = async (
    ctx: Context,
    uid: string,
    clientId: unknown,
    extra: { error?: string; email?: string } = {},
    status = 200,
  ) =>
    render(
      ctx,
      'login',
      {
        title: 'Sign in',
        uid,
        csrf: forms.tokenFor(uid),
        clientName: await clientNameOf(clientId),
        signUpEnabled,
        ...extra,
      },
      status,
    );
  const secondFactorPage = async (ctx: Context, uid: string, clientId: unknown, error?: string, status = 200) =>
    render(
      ctx,
      'second-factor',
      {
        title: 'Two-step verification',
        uid,
        csrf: forms.tokenFor(uid),
        clientName: await clientNameOf(clientId),
        error,
      },
      status,
    );
  const magicSentPage = (ctx: Context, uid: string, error?: string, status = 200) =>
    render(ctx, 'magic-link-sent', { title: 'Check your email', uid, csrf: forms.tokenFor(uid), error }, status);
  const linkGonePage = (ctx: Context) =>
    render(ctx, 'message', { title: 'Link expired', paragraphs: [LINK_GONE] }, 410);

  /** The interaction of this browser, which must be waiting at `prompt`; a late or repeated submit is told so. */
  const interactionAt = async (ctx: Context, prompt = 'login') => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== prompt) throw stepAlreadyDone(details.uid);
    return details;
  };

  async function finishSignIn(ctx: Context, signIn: CompletedSignIn): Promise<void> {
    devices.remember(ctx, signIn.accountId);
    const redirectTo = await provider().interactionResult(
      ctx.req,
      ctx.res,
      { login: { ...signIn } },
      { mergeWithLastSubmission: false },
    );
    seeOther(ctx, redirectTo);
  }

  /**
   * Answers a first or second factor's result. `refused` renders the step's own page with its
   * refusal; the other outcomes are the same for every strategy.
   */
  async function answer(
    ctx: Context,
    uid: string,
    clientId: unknown,
    result: SignInResult,
    refused: (status: number, error: string) => Promise<void>,
  ) {
    switch (result.outcome) {
      case 'signed-in':
        return finishSignIn(ctx, result.signIn);
      case 'second-factor-needed':
        return secondFactorPage(ctx, uid, clientId);
      case 'retry-later':
        ctx.set('Retry-After', String(result.retryAfterSeconds));
        return refused(429, TRY_AGAIN_SHORTLY);
      case 'refused':
        return refused(401, '');
    }
  }

  router.get('/interaction/:uid', async (ctx) => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    const clientId = details.params.client_id;
    if (details.prompt.name === 'login') {
      if (await secondFactor.isPending(details.uid)) return secondFactorPage(ctx, details.uid, clientId);
      return loginPage(ctx, details.uid, clientId, { email: hintedEmail(details.params.login_hint) });
    }
    render(ctx, 'consent', {
      title: 'Allow access?',
      uid: details.uid,
      csrf: forms.tokenFor(details.uid),
      clientName: await clientNameOf(clientId),
      scopes: describeScopes(requestedScopes(details)),
    });
  });

  router.post('/interaction/:uid/login', async (ctx) => {
    const details = await interactionAt(ctx);
    const form = await forms.readForm(ctx, details.uid);
    const email = emailFromForm(form.get('email'));
    const result = await password.checkPassword(details.uid, email, form.get('password') ?? '', requester(ctx));
    // After a refusal the address stays filled in (normalized, for a known and an unknown one alike): only the password is asked again.
    await answer(ctx, details.uid, details.params.client_id, result, (status, error) =>
      loginPage(ctx, details.uid, details.params.client_id, { error: error || WRONG_PASSWORD, email }, status),
    );
  });

  router.post('/interaction/:uid/second-factor', async (ctx) => {
    const details = await interactionAt(ctx);
    if (!(await secondFactor.isPending(details.uid))) throw signInExpired(details.uid);
    const form = await forms.readForm(ctx, details.uid);
    const proof = { code: form.get('code') ?? undefined, recoveryCode: form.get('recovery_code') ?? undefined };
    const result = await secondFactor.check(details.uid, proof, requester(ctx));
    if (result.outcome === 'expired') throw signInExpired(details.uid);
    await answer(ctx, details.uid, details.params.client_id, result, (status, error) =>
      secondFactorPage(ctx, details.uid, details.params.client_id, error || WRONG_SECOND_FACTOR, status),
    );
  });

  // An emailed sign-in link: the same page whether or not the address has an account.
  router.post('/interaction/:uid/magic-link', async (ctx) => {
    const details = await interactionAt(ctx);
    const form = await forms.readForm(ctx, details.uid);
    await magicLink.request(details.uid, emailFromForm(form.get('email')), ctx.ip, {
      // From the configured issuer URL, never the request's Host header.
      link: (token) => `${issuerUrl}/interaction/${encodeURIComponent(details.uid)}/magic/${token}`,
      clientName: () => clientNameOf(details.params.client_id),
    });
    magicSentPage(ctx, details.uid);
  });

  // Opening the link does nothing by itself (mail scanners open links): in the browser that asked,
  // it shows a button; anywhere else, a short code to type into the browser that asked.
  router.get('/interaction/:uid/magic/:token', async (ctx) => {
    const { uid, token } = ctx.params as { uid: string; token: string };
    if (!(await magicLink.isLive(uid, token))) return linkGonePage(ctx);
    const details = await provider()
      .interactionDetails(ctx.req, ctx.res)
      .catch(() => undefined);
    if (details?.uid === uid) {
      const clientName = await clientNameOf(details.params.client_id);
      return render(ctx, 'magic-link-open', {
        title: 'Sign in',
        sameBrowser: true,
        uid,
        token,
        csrf: forms.tokenFor(uid),
        clientName,
      });
    }
    const code = await magicLink.shortCodeFor(uid, token);
    render(ctx, 'magic-link-open', { title: 'Sign in on your other device', sameBrowser: false, code });
  });

  router.post('/interaction/:uid/magic/:token', async (ctx) => {
    const details = await interactionAt(ctx);
    await forms.readForm(ctx, details.uid);
    const { uid, token } = ctx.params as { uid: string; token: string };
    const result =
      uid === details.uid ? await magicLink.confirmLink(details.uid, token, ctx.ip) : { outcome: 'link-gone' as const };
    if (result.outcome === 'link-gone') return linkGonePage(ctx);
    await answer(ctx, details.uid, details.params.client_id, result, async () => linkGonePage(ctx));
  });

  router.post('/interaction/:uid/magic-code', async (ctx) => {
    const details = await interactionAt(ctx);
    const form = await forms.readForm(ctx, details.uid);
    const result = await magicLink.confirmCode(details.uid, form.get('code') ?? '', ctx.ip);
    if (result.outcome === 'too-many-codes') return magicSentPage(ctx, details.uid, TOO_MANY_MAGIC_CODES, 429);
    if (result.outcome === 'wrong-code') return magicSentPage(ctx, details.uid, WRONG_MAGIC_CODE, 401);
    if (result.outcome === 'link-gone') return linkGonePage(ctx);
    await answer(ctx, details.uid, details.params.client_id, result, async () => linkGonePage(ctx));
  });

  router.post('/interaction/:uid/consent', async (ctx) => {
    const details = await interactionAt(ctx, 'consent');
    const form = await forms.readForm(ctx, details.uid);
    const result = await consentResult(provider(), details, form.get('decision') === 'allow');
    seeOther(ctx, await provider().interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true }));
  });

  return router;
}
