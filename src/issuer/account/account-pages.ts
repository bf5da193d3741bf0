import { randomBytes } from 'node:crypto';
import { sameSecret } from '../../shared/crypto/digest.ts';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import QRCode from 'qrcode';
import type { Mailer } from '../../accounts/mail/mailer.ts';
import { securityChange, type SecurityChange } from '../../accounts/mail/messages.ts';
import type { SecondFactor } from '../../accounts/second-factor.ts';
import type { UserRepository, UserRow } from '../../accounts/user-repository.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import { WAY_TO_ACCOUNT } from '../http/page-errors.ts';
import type { FormGuard } from '../interactions/form-guard.ts';
import { currentSession } from '../oidc/session-index.ts';
import type { Passkeys } from '../../accounts/passkeys.ts';
import { PASSKEY_CREATION } from '../pages/page-assets.ts';
import type { PageData, PageRenderer } from '../pages/page-renderer.ts';
import type { AccountAccess } from './account-access.ts';
import { profileOf } from '../../accounts/profile.ts';
import { profileRows } from './profile-routes.ts';
import { ACCOUNT_CONSOLE_CLIENT_ID } from './account-console-client.ts';

export interface AccountPagesOptions {
  provider: () => Provider;
  users: UserRepository;
  secondFactor: SecondFactor;
  mailer: Mailer;
  access: AccountAccess;
  forms: FormGuard;
  pages: PageRenderer;
  issuerUrl: string;
  /** Sensitive changes need a sign-in at most this old; past it, the person signs in again first. */
  recentSignInSeconds: number;
  passkeys: Passkeys;
  /** Sign-in through other providers: the account's links, and the providers it could link. */
  linkedProviders?: (userId: string) => Promise<{
    linked: Array<{ id: string; providerName: string; email: string | null; linkedAt: Date }>;
    available: Array<{ slug: string; name: string }>;
  }>;
}

/** The person behind this browser's session, as the account pages know them. */
export interface SignedIn {
  user: UserRow & { roleNames: string[] };
  /** The handle of this browser's session (the hash of its id). */
  sessionHandle: string;
  signedInAt: number;
  /** How the session's sign-in was made (RFC 8176), for what needs a recent second factor. */
  amr: string[];
}

const STATE_COOKIE = 'latchkey.account-state';
/** Where the account's own sign-in comes back to: /account, or a page of the admin console. */
const RETURN_COOKIE = 'latchkey.account-return';
const when = (date: Date | undefined) =>
  date ? date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : 'unknown';
const groupsOfFour = (secret: string) => secret.replace(/(.{4})/g, '$1 ').trim();

/**
 * What every /account route shares: who is signed in (only ever from the issuer's session cookie),
 * sending the browser through the issuer's own sign-in and back, reading a signed-in form, and the
 * overview page every refusal comes back to.
 */
export class AccountPages {
  readonly #options: AccountPagesOptions;

  constructor(options: AccountPagesOptions) {
    this.#options = options;
  }

  async signedIn(ctx: Context): Promise<SignedIn | undefined> {
    const session = await currentSession(this.#options.provider(), ctx);
    if (!session) return undefined;
    const user = await this.#options.users.findWithRoles(session.accountId);
    if (!user || user.disabledAt) return undefined;
    return { user, sessionHandle: session.handle, signedInAt: session.loginTs, amr: session.amr };
  }

  /**
   * Sends the browser through the issuer's own sign-in; `again` forces the password (and second
   * factor) to be asked; `returnTo` (a path of /account or the admin console) is where it comes back.
   */
  signIn(ctx: Context, again = false, returnTo = '/account'): void {
    const { issuerUrl } = this.#options;
    const state = randomBytes(16).toString('base64url');
    const secure = issuerUrl.startsWith('https://');
    const cookie = { httpOnly: true, sameSite: 'lax', secure, path: '/account', maxAge: 3_600_000 } as const;
    ctx.cookies.set(STATE_COOKIE, state, { ...cookie, overwrite: true, signed: false });
    const back = /^\/(account|admin)(\/[\w\-/]*)?$/.test(returnTo) ? returnTo : '/account';
    ctx.cookies.set(RETURN_COOKIE, back, { ...cookie, overwrite: true, signed: false });
    const url = new URL('/auth', issuerUrl);
    url.search = new URLSearchParams({
      client_id: ACCOUNT_CONSOLE_CLIENT_ID,
      response_type: 'none',
      redirect_uri: `${issuerUrl}/account/callback`,
      scope: 'openid',
      state,
      ...(again ? { prompt: 'login', max_age: '0' } : {}),
    }).toString();
    seeOther(ctx, url.href);
  }

  /** The end of that sign-in: true when the state matches the cookie and the issuer is ours. */
  /** Where the finished sign-in goes: the page that asked for it (a path of ours only), else /account. */
  returnPath(ctx: Context): string {
    const back = ctx.cookies.get(RETURN_COOKIE) ?? '';
    ctx.cookies.set(RETURN_COOKIE, null, { path: '/account', overwrite: true });
    return /^\/(account|admin)(\/[\w\-/]*)?$/.test(back) ? back : '/account';
  }

  signInFinished(ctx: Context): boolean {
    const expected = ctx.cookies.get(STATE_COOKIE) ?? '';
    const given = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    ctx.cookies.set(STATE_COOKIE, null, { path: '/account', overwrite: true });
    const validState = sameSecret(expected, given);
    return validState && ctx.query.iss === this.#options.issuerUrl && typeof ctx.query.error !== 'string';
  }

  /** The signed-in person for a form POST (origin and form token checked), or a redirect to sign in. */
  async formFrom(ctx: Context, options: { recent?: boolean } = {}) {
    const form = await this.#options.forms.readBrowserForm(ctx, WAY_TO_ACCOUNT);
    const who = await this.signedIn(ctx);
    if (!who) return this.signIn(ctx);
    if (options.recent && Date.now() / 1000 - who.signedInAt > this.#options.recentSignInSeconds) {
      // Asked again, with the second factor when enrolled; the person then repeats the change.
      return this.signIn(ctx, true);
    }
    return { who, form };
  }

  /** Mails the owner about a change to the account's security, with the way back if it was not them. */
  tellOwner(who: SignedIn, change: SecurityChange): void {
    this.#options.mailer.send({ to: who.user.email, ...securityChange(change, this.#options.issuerUrl) });
  }

  async overview(ctx: Context, who: SignedIn, extra: Partial<PageData> = {}, status = 200): Promise<void> {
    const { access, secondFactor, provider, pages, forms } = this.#options;
    const userId = who.user.id;
    const [sessions, grants, recoveryCodesLeft, passkeys, providers] = await Promise.all([
      access.sessions(userId),
      access.grants(userId),
      secondFactor.recoveryCodesLeft(userId),
      this.#options.passkeys.list(userId),
      this.#options.linkedProviders?.(userId) ?? { linked: [], available: [] },
    ]);
    const clientName = async (clientId: string) => (await provider().Client.find(clientId))?.clientName ?? clientId;
    const apps = await Promise.all(
      grants.map(async (grant) => ({
        handle: grant.grantId,
        clientName: await clientName(grant.clientId),
        scopes: grant.scopes.join(', '),
      })),
    );
    const page = {
      title: 'Your account',
      wide: true,
      csrf: forms.browserToken(ctx),
      email: who.user.email,
      emailVerified: who.user.emailVerified,
      roles: who.user.roleNames.join(', ') || 'none',
      profile: profileRows(profileOf(who.user)),
      createdAt: when(who.user.createdAt),
      totpEnabled: who.user.totpEnabledAt !== null,
      recoveryCodesLeft,
      sessions: sessions.map((session) => ({
        handle: session.handle,
        device: session.device,
        signedIn: when(session.signedInAt),
        lastSeen: when(session.lastSeenAt),
        current: session.handle === who.sessionHandle,
      })),
      apps,
      passkeys: passkeys.map((passkey) => ({
        handle: passkey.id,
        name: passkey.name,
        synced: passkey.backedUp,
        created: when(passkey.createdAt),
        lastUsed: passkey.lastUsedAt ? when(passkey.lastUsedAt) : 'never',
      })),
      linkedProviders: providers.linked.map((link) => ({ ...link, linkedAt: when(link.linkedAt) })),
      availableProviders: providers.available,
      // The passkey ceremony runs in the browser: @simplewebauthn's bundle and our small script.
      ...PASSKEY_CREATION,
    };
    pages.render(ctx, 'account', { ...page, ...extra }, status);
  }

  async totpEnrollmentPage(ctx: Context, uri: string, secret: string, error?: string): Promise<void> {
    const qrDataUrl = await QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, scale: 5 });
    const page = { title: 'Set up two-step verification', csrf: this.#options.forms.browserToken(ctx), qrDataUrl };
    this.#options.pages.render(
      ctx,
      'account-totp',
      { ...page, secretGroups: groupsOfFour(secret), error },
      error ? 400 : 200,
    );
  }
}
