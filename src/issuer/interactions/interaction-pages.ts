import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { PasskeyOffer } from '../../accounts/sign-in/passkey-offer.ts';
import type { CompletedSignIn, Requester, SignInResult } from '../../accounts/sign-in/sign-in.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import { stepAlreadyDone } from '../http/page-errors.ts';
import { originQuery } from '../account/way-back.ts';
import { PASSKEY_CREATION, WEBAUTHN_BROWSER_ASSET } from '../pages/page-assets.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import type { DeviceCookies } from './device-cookie.ts';
import type { FormGuard } from './form-guard.ts';

export type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface InteractionPagesOptions {
  provider: () => Provider;
  devices: DeviceCookies;
  forms: FormGuard;
  pages: PageRenderer;
  signUpEnabled: boolean;
  /** The second factors of the account whose first factor passed in this sign-in. */
  secondFactorMethods: (signInId: string) => Promise<{ totp: boolean; passkey: boolean }>;
  /** The address of the account a browser is signed in as, shown on the pages that act for it. */
  accountEmail: (accountId: string) => Promise<string | undefined>;
  /** "Sign in faster next time": the one-time offer of a passkey after a password sign-in. */
  passkeyOffer: Pick<PasskeyOffer, 'hold'>;
  /** The other identity providers the sign-in page offers a button for. */
  upstreams?: () => Promise<Array<{ slug: string; buttonLabel: string }>>;
  /**
   * Runs as a sign-in finishes, before the browser goes back into the provider: an identity from
   * another provider waiting for this account's owner to prove the account is linked here.
   */
  onSignedIn?: (signInId: string, signIn: CompletedSignIn, ip: string) => Promise<void>;
}

/** The prompts at which a sign-in step may be submitted: the login itself, or "Not you?" at the consent that follows it. */
const SIGN_IN_PROMPTS = ['login', 'consent'];

/**
 * The passkey script of the sign-in and second-factor pages, with @simplewebauthn's browser bundle:
 * the passkey buttons, the passkeys in the email field's autofill, and the form field telling the
 * issuer whether this browser could make a passkey (for the offer after a password sign-in).
 */
export const PASSKEY_SIGN_IN = { script: 'passkey-sign-in', scriptAssets: [WEBAUTHN_BROWSER_ASSET] };

/** Nothing was checked (too soon after a failure, or too many checks at once): no verdict on the secret. */
const TRY_AGAIN_SHORTLY = 'Too many attempts just now. Wait a few seconds, then try again.';
const LINK_GONE = 'This sign-in link has expired or was already used. Ask for a new one on the sign-in page.';

/**
 * What the sign-in routes share: the interaction oidc-provider is waiting on, the pages of each
 * step (each with a form token bound to the interaction), and the answer to a step's result,
 * the same for every sign-in strategy.
 */
export class InteractionPages {
  readonly #options: InteractionPagesOptions;

  constructor(options: InteractionPagesOptions) {
    this.#options = options;
  }

  /** What the consent page shows of the client: its logo (and the one origin the page may load it from) and links. */
  async clientPresentation(details: InteractionDetails) {
    const client = await this.#options.provider().Client.find(String(details.params.client_id));
    const links = client as unknown as
      { logoUri?: string; clientUri?: string; policyUri?: string; tosUri?: string } | undefined;
    const logoUri = links?.logoUri;
    return {
      /** The scopes the client is registered with. */
      scope: client?.scope,
      logoUri,
      clientUri: links?.clientUri,
      policyUri: links?.policyUri,
      tosUri: links?.tosUri,
      imageOrigins: logoUri && URL.canParse(logoUri) ? [new URL(logoUri).origin] : [],
    };
  }

  async clientName(details: InteractionDetails): Promise<string> {
    return (
      (await this.#options.provider().Client.find(String(details.params.client_id)))?.clientName ?? 'an application'
    );
  }

  /** Who is asking, as the accounts domain needs to know: the address, and the browser's device cookie. */
  requester(ctx: Context): Requester {
    return { ip: ctx.ip, trustedDevice: (userId) => this.#options.devices.trustedFor(ctx, userId) };
  }

  /**
   * The interaction of this browser, which must be waiting at one of `prompts`; a late or repeated
   * submit is told so. A sign-in step is also taken at the consent prompt: that is the person
   * answering "Not you?" by signing in as someone else (oidc-provider then ends the old session).
   */
  async waitingAt(ctx: Context, prompts: readonly string[] = SIGN_IN_PROMPTS): Promise<InteractionDetails> {
    const details = await this.#options.provider().interactionDetails(ctx.req, ctx.res);
    if (!prompts.includes(details.prompt.name)) throw stepAlreadyDone(details.uid);
    return details;
  }

  /** Who this browser is signed in as, for "Signed in as … Not you?". */
  async signedInAs(details: InteractionDetails): Promise<string | undefined> {
    const accountId = details.session?.accountId;
    return accountId ? this.#options.accountEmail(accountId) : undefined;
  }

  /** The step's form, after its origin and its token (bound to this interaction) are checked. */
  readForm(ctx: Context, details: InteractionDetails): Promise<URLSearchParams> {
    return this.#options.forms.readForm(ctx, details.uid);
  }

  get pages(): PageRenderer {
    return this.#options.pages;
  }

  /** A page of this interaction's steps, with its form token. */
  async render(ctx: Context, view: string, details: InteractionDetails, data: Record<string, unknown>, status = 200) {
    const { forms, pages } = this.#options;
    const clientId = String(details.params.client_id);
    const page = {
      uid: details.uid,
      csrf: forms.tokenFor(details.uid),
      clientName: await this.clientName(details),
      // Sign-up and reset links carry where the person came from, for their way back.
      originQuery: originQuery({ clientId, interaction: details.uid }),
    };
    pages.render(ctx, view, { title: '', ...page, ...data }, status);
  }

  /** The sign-in form; `email` fills the address in (a `login_hint`, or what was typed before a refusal). */
  async loginPage(
    ctx: Context,
    details: InteractionDetails,
    extra: { error?: string; email?: string; switching?: boolean } = {},
    status = 200,
  ) {
    const { signUpEnabled } = this.#options;
    const title = extra.switching ? 'Sign in as someone else' : 'Sign in';
    const upstreams = (await this.#options.upstreams?.()) ?? [];
    return this.render(
      ctx,
      'login',
      details,
      { title, signUpEnabled, upstreams, ...PASSKEY_SIGN_IN, ...extra },
      status,
    );
  }

  /** The second factor: the account's passkey first when it has one, the authenticator code otherwise or beside it. */
  async secondFactorPage(ctx: Context, details: InteractionDetails, error?: string, status = 200) {
    const methods = await this.#options.secondFactorMethods(details.uid);
    const page = { title: 'Two-step verification', error, methods, ...PASSKEY_SIGN_IN };
    return this.render(ctx, 'second-factor', details, page, status);
  }

  /** "Sign in faster next time": make a passkey on this device, or continue without one. */
  passkeyOfferPage(ctx: Context, details: InteractionDetails, error?: string, status = 200) {
    const page = { title: 'Sign in faster next time', error, ...PASSKEY_CREATION };
    return this.render(ctx, 'passkey-offer', details, page, status);
  }

  magicSentPage(ctx: Context, details: InteractionDetails, error?: string, status = 200) {
    return this.render(ctx, 'magic-link-sent', details, { title: 'Check your email', error }, status);
  }

  linkGonePage(ctx: Context): void {
    const link = { href: '/account', text: 'Go to sign-in' };
    this.#options.pages.render(ctx, 'message', { title: 'Link expired', paragraphs: [LINK_GONE], link }, 410);
  }

  /**
   * Answers a first or second factor's result. `refused` renders the step's own page with its
   * refusal; the other outcomes are the same for every strategy. A finished password sign-in may
   * stop at the passkey offer first, when `form` says the browser could make one here.
   */
  async answer(
    ctx: Context,
    details: InteractionDetails,
    result: SignInResult,
    refused: (status: number, error?: string) => Promise<void>,
    form?: URLSearchParams,
  ) {
    switch (result.outcome) {
      case 'signed-in': {
        const browserCanMakeOne = form?.get('passkey_capable') === 'platform';
        if (await this.#options.passkeyOffer.hold(details.uid, result.signIn, browserCanMakeOne))
          return this.passkeyOfferPage(ctx, details);
        return this.finish(ctx, details, result.signIn);
      }
      case 'second-factor-needed':
        return this.secondFactorPage(ctx, details);
      case 'retry-later':
        ctx.set('Retry-After', String(result.retryAfterSeconds));
        return refused(429, TRY_AGAIN_SHORTLY);
      case 'refused':
        return refused(401);
    }
  }

  /** The sign-in is complete: the browser is remembered for this account and goes back into the provider. */
  async finish(ctx: Context, details: InteractionDetails, signIn: CompletedSignIn): Promise<void> {
    await this.#options.onSignedIn?.(details.uid, signIn, ctx.ip);
    this.#options.devices.remember(ctx, signIn.accountId);
    const result = { login: { ...signIn } };
    seeOther(
      ctx,
      await this.#options.provider().interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }),
    );
  }
}
