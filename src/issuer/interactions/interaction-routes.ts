import Router from '@koa/router';
import type Provider from 'oidc-provider';
import { emailFromForm, isPlausibleEmail } from '../../accounts/email-address.ts';
import type { MagicLinkSignIn } from '../../accounts/sign-in/magic-link.ts';
import type { PasskeyOffer } from '../../accounts/sign-in/passkey-offer.ts';
import type { PasskeySignIn } from '../../accounts/sign-in/passkey-sign-in.ts';
import type { PasswordSignIn } from '../../accounts/sign-in/password-sign-in.ts';
import { ceremonyResponse } from '../../accounts/passkeys.ts';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { SecondFactorStep } from '../../accounts/sign-in/second-factor-step.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import type { ApiService } from '../apis/api-service.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import { signInExpired } from '../http/page-errors.ts';
import { apiScopeWords, describeClaims, describeScopes } from '../pages/scope-words.ts';
import { consentResult, requestedClaims, requestedScopes } from './consent.ts';
import { type InteractionDetails, InteractionPages, type InteractionPagesOptions } from './interaction-pages.ts';

export interface InteractionDependencies extends InteractionPagesOptions {
  provider: () => Provider;
  password: PasswordSignIn;
  secondFactor: SecondFactorStep;
  magicLink: MagicLinkSignIn;
  passkey: PasskeySignIn;
  passkeyOffer: PasskeyOffer;
  /** The registered APIs: the consent page shows their scopes' sentences. */
  apis: Pick<ApiService, 'list'>;
  issuerUrl: string;
}

type Parts = InteractionDependencies & { steps: InteractionPages; router: Router<RequestState> };

const WRONG_PASSWORD = 'That email and password do not match an active account.';
const WRONG_SECOND_FACTOR = 'That code was not accepted. Try the current code, or a recovery code.';
const WRONG_MAGIC_CODE = 'That code was not accepted. Open the link from the email again to see the current code.';
const PASSKEY_REFUSED = 'That passkey was not accepted. Try again, or sign in with your password.';
const PASSKEY_REFUSED_AS_SECOND = 'That passkey was not accepted. Try again with a passkey of this account.';
const PASSKEY_NOT_MADE = 'No passkey was created. Try again, or continue without one.';
const TOO_MANY_MAGIC_CODES = 'Too many wrong codes. Go back to sign-in and ask for a new link.';

/** A device flow's sign-in (RFC 8628): its consent says it is for a device, and is always asked. */
const isDeviceFlow = (details: { deviceCode?: unknown }) => typeof details.deviceCode === 'string';

/** What the consent page lists: what is missing from the grant; for a device, everything it asked for. */
const consentScopes = (details: InteractionDetails) =>
  isDeviceFlow(details) && typeof details.params.scope === 'string'
    ? details.params.scope.split(' ').filter(Boolean)
    : requestedScopes(details);

/** An OIDC `login_hint` that looks like an email address (anything else is ignored, as the spec allows). */
const hintedEmail = (hint: unknown) => (typeof hint === 'string' && isPlausibleEmail(hint) ? hint : undefined);

/**
 * The sign-in steps oidc-provider hands over to us: email and password or an emailed link, then the
 * second factor when the account has one, then consent for third-party clients (first-party ones
 * were granted in loadExistingGrant). Each route reads its form (origin and token checked), asks
 * the accounts domain, and answers with a page or a 303 back into the provider.
 */
export function interactionRoutes(dependencies: InteractionDependencies): Router<RequestState> {
  const parts: Parts = {
    ...dependencies,
    steps: new InteractionPages(dependencies),
    router: new Router<RequestState>(),
  };
  signInRoutes(parts);
  magicLinkRoutes(parts);
  passkeyRoutes(parts);
  passkeyOfferRoutes(parts);
  consentRoutes(parts);
  return parts.router;
}

/** The current step's page, the password, and the second factor. */
function signInRoutes({ router, steps, provider, password, secondFactor, passkeyOffer, apis }: Parts): void {
  router.get('/interaction/:uid', async (ctx) => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    if (await passkeyOffer.isHeld(details.uid)) return steps.passkeyOfferPage(ctx, details);
    if (details.prompt.name === 'login') {
      if (await secondFactor.isPending(details.uid)) return steps.secondFactorPage(ctx, details);
      return steps.loginPage(ctx, details, { email: hintedEmail(details.params.login_hint) });
    }
    const { scope, ...presentation } = await steps.clientPresentation(details);
    const claims = requestedClaims(details, scope).allowed;
    await steps.render(ctx, 'consent', details, {
      title: isDeviceFlow(details) ? 'Allow this device?' : 'Allow access?',
      device: isDeviceFlow(details),
      account: await steps.signedInAs(details),
      scopes: [...describeScopes(consentScopes(details), await apiScopeWords(apis)), ...describeClaims(claims)],
      ...presentation,
    });
  });

  // "Not you?" on the consent page: the sign-in form again, for this same request; signing in there
  // replaces the account (oidc-provider ends the other one's session first).
  router.post('/interaction/:uid/switch-account', async (ctx) => {
    const details = await steps.waitingAt(ctx, ['consent']);
    await steps.readForm(ctx, details);
    await steps.loginPage(ctx, details, { switching: true });
  });

  router.post('/interaction/:uid/login', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    const form = await steps.readForm(ctx, details);
    const email = emailFromForm(form.get('email'));
    const result = await password.checkPassword(details.uid, email, form.get('password') ?? '', steps.requester(ctx));
    // After a refusal the address stays filled in (normalized, for a known and an unknown one alike): only the password is asked again.
    await steps.answer(
      ctx,
      details,
      result,
      (status, error = WRONG_PASSWORD) => steps.loginPage(ctx, details, { error, email }, status),
      form,
    );
  });

  router.post('/interaction/:uid/second-factor', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    if (!(await secondFactor.isPending(details.uid))) throw signInExpired(details.uid);
    const form = await steps.readForm(ctx, details);
    const proof = { code: form.get('code') ?? undefined, recoveryCode: form.get('recovery_code') ?? undefined };
    const result = await secondFactor.check(details.uid, proof, steps.requester(ctx));
    if (result.outcome === 'expired') throw signInExpired(details.uid);
    await steps.answer(
      ctx,
      details,
      result,
      (status, error = WRONG_SECOND_FACTOR) => steps.secondFactorPage(ctx, details, error, status),
      form,
    );
  });
}

/** An emailed sign-in link: asked for, opened (here or on another device), confirmed by button or code. */
function magicLinkRoutes({ router, steps, provider, magicLink, issuerUrl }: Parts): void {
  // The same page whether or not the address has an account.
  router.post('/interaction/:uid/magic-link', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    const form = await steps.readForm(ctx, details);
    await magicLink.request(details.uid, emailFromForm(form.get('email')), ctx.ip, {
      // From the configured issuer URL, never the request's Host header.
      link: (token) => `${issuerUrl}/interaction/${encodeURIComponent(details.uid)}/magic/${token}`,
      clientName: () => steps.clientName(details),
    });
    await steps.magicSentPage(ctx, details);
  });

  // Opening the link does nothing by itself (mail scanners open links): in the browser that asked,
  // it shows a button; anywhere else, a short code to type into the browser that asked.
  router.get('/interaction/:uid/magic/:token', async (ctx) => {
    const { uid, token } = ctx.params as { uid: string; token: string };
    if (!(await magicLink.isLive(uid, token))) return steps.linkGonePage(ctx);
    const details = await provider()
      .interactionDetails(ctx.req, ctx.res)
      .catch(() => undefined);
    if (details?.uid === uid)
      return steps.render(ctx, 'magic-link-open', details, { title: 'Sign in', sameBrowser: true, token });
    const code = await magicLink.shortCodeFor(uid, token);
    steps.pages.render(ctx, 'magic-link-open', { title: 'Sign in on your other device', sameBrowser: false, code });
  });

  router.post('/interaction/:uid/magic/:token', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    await steps.readForm(ctx, details);
    const { uid, token } = ctx.params as { uid: string; token: string };
    const result =
      uid === details.uid ? await magicLink.confirmLink(details.uid, token, ctx.ip) : { outcome: 'link-gone' as const };
    if (result.outcome === 'link-gone') return steps.linkGonePage(ctx);
    await steps.answer(ctx, details, result, async () => steps.linkGonePage(ctx));
  });

  router.post('/interaction/:uid/magic-code', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    const form = await steps.readForm(ctx, details);
    const result = await magicLink.confirmCode(details.uid, form.get('code') ?? '', ctx.ip);
    if (result.outcome === 'too-many-codes') return steps.magicSentPage(ctx, details, TOO_MANY_MAGIC_CODES, 429);
    if (result.outcome === 'wrong-code') return steps.magicSentPage(ctx, details, WRONG_MAGIC_CODE, 401);
    if (result.outcome === 'link-gone') return steps.linkGonePage(ctx);
    await steps.answer(ctx, details, result, async () => steps.linkGonePage(ctx));
  });
}

/**
 * A passkey ceremony's options for the page's script (a challenge bound to this sign-in), as JSON
 * that is never cached; none means what they were for has expired.
 */
function ceremonyOptions(
  router: Router<RequestState>,
  steps: InteractionPages,
  path: string,
  options: (signInId: string) => Promise<object | undefined>,
): void {
  router.post(path, async (ctx) => {
    const details = await steps.waitingAt(ctx);
    await steps.readForm(ctx, details);
    const body = await options(details.uid);
    if (!body) throw signInExpired(details.uid);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  });
}

/**
 * Sign-in with a passkey: the page's script asks for the options (a challenge bound to this
 * sign-in), the browser's authenticator answers, and the script posts the answer in an ordinary
 * form, so the result is the same 303 into the provider as for a password.
 */
function passkeyRoutes({ router, steps, passkey, secondFactor }: Parts): void {
  ceremonyOptions(router, steps, '/interaction/:uid/passkey/options', (uid) => passkey.options(uid));
  // The passkey as the second factor after a password (or an emailed link).
  ceremonyOptions(router, steps, '/interaction/:uid/second-factor/passkey/options', (uid) =>
    secondFactor.passkeyOptions(uid),
  );

  router.post('/interaction/:uid/second-factor/passkey', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    const form = await steps.readForm(ctx, details);
    const response = ceremonyResponse<AuthenticationResponseJSON>(form.get('response'));
    const refused = (status: number) => steps.secondFactorPage(ctx, details, PASSKEY_REFUSED_AS_SECOND, status);
    if (!response) return refused(400);
    const result = await secondFactor.checkPasskey(details.uid, response, steps.requester(ctx));
    if (result.outcome === 'expired') throw signInExpired(details.uid);
    await steps.answer(ctx, details, result, refused);
  });

  router.post('/interaction/:uid/passkey', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    const form = await steps.readForm(ctx, details);
    const response = ceremonyResponse<AuthenticationResponseJSON>(form.get('response'));
    const refused = (status: number, error = PASSKEY_REFUSED) => steps.loginPage(ctx, details, { error }, status);
    if (!response) return refused(400);
    await steps.answer(ctx, details, await passkey.check(details.uid, response, ctx.ip), refused);
  });
}

/**
 * "Sign in faster next time", after a password sign-in (see `passkeyOffer`): the finished sign-in
 * is held for this interaction until the person makes a passkey or says "Not now", then goes on.
 */
function passkeyOfferRoutes({ router, steps, passkeyOffer }: Parts): void {
  ceremonyOptions(router, steps, '/interaction/:uid/passkey-offer/options', (uid) => passkeyOffer.creationOptions(uid));

  router.post('/interaction/:uid/passkey-offer', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    const form = await steps.readForm(ctx, details);
    const response = ceremonyResponse<RegistrationResponseJSON>(form.get('response'));
    if (!(await passkeyOffer.isHeld(details.uid))) throw signInExpired(details.uid);
    const answer = response
      ? await passkeyOffer.accept(details.uid, response, ctx.ip)
      : { outcome: 'not-added' as const };
    if (answer.outcome === 'added') return steps.finish(ctx, details, answer.signIn);
    if (answer.outcome === 'expired') throw signInExpired(details.uid);
    await steps.passkeyOfferPage(ctx, details, PASSKEY_NOT_MADE, 400);
  });

  router.post('/interaction/:uid/passkey-offer/skip', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    await steps.readForm(ctx, details);
    const signIn = await passkeyOffer.decline(details.uid);
    if (!signIn) throw signInExpired(details.uid);
    await steps.finish(ctx, details, signIn);
  });
}

function consentRoutes({ router, steps, provider }: Parts): void {
  router.post('/interaction/:uid/consent', async (ctx) => {
    const details = await steps.waitingAt(ctx, ['consent']);
    const form = await steps.readForm(ctx, details);
    const { scope } = await steps.clientPresentation(details);
    const result = await consentResult(provider(), details, form.get('decision') === 'allow', scope);
    seeOther(ctx, await provider().interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true }));
  });
}
