import Router from '@koa/router';
import type { Context } from 'koa';
import { passwordProblem, type PasswordPolicy } from '../../accounts/password-policy.ts';
import type { PasswordHasher } from '../../accounts/passwords.ts';
import type { SecondFactor } from '../../accounts/second-factor.ts';
import type { SecurityEvents } from '../../accounts/security-events.ts';
import type { PasswordSignIn } from '../../accounts/sign-in/password-sign-in.ts';
import type { UserRepository } from '../../accounts/user-repository.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import type { AccountAccess } from './account-access.ts';
import { ACCOUNT_CONSOLE_CLIENT_ID } from './account-console-client.ts';
import { AccountPages, type AccountPagesOptions } from './account-pages.ts';
import { passkeyRoutes } from './passkey-routes.ts';
import { profileRoutes } from './profile-routes.ts';
import type { Profiles } from '../../accounts/profile.ts';
import type { ApiKeys } from '../api-keys/api-keys.ts';
import { apiKeyRoutes } from './api-key-routes.ts';
import { providerLinkRoutes, type ProviderLinkParts } from './provider-link-routes.ts';

export interface AccountDependencies extends AccountPagesOptions {
  users: UserRepository;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
  /** Checks the current password or code, counted by the lockout like any sign-in. */
  password: PasswordSignIn;
  secondFactor: SecondFactor;
  events: SecurityEvents;
  access: AccountAccess;
  pages: PageRenderer;
  profiles: Profiles;
  apiKeys: ApiKeys;
  /** Sign-in through other providers; absent, /account has no providers section. */
  federation?: Omit<ProviderLinkParts, 'router' | 'account'>;
}

type Parts = AccountDependencies & { account: AccountPages; router: Router<RequestState> };

const NOTICES: Record<string, string> = {
  password: 'Your password is changed. Other browsers were signed out.',
  totp_removed: 'Two-step verification is off.',
  session: 'That browser is signed out.',
  sessions: 'Every other browser is signed out.',
  app: 'That app no longer has access.',
  profile: 'Your profile is saved.',
  passkey_added: 'Your passkey is added: it can sign you in on its own, with no password.',
  passkey_renamed: 'Saved.',
  passkey_removed: 'The passkey is removed.',
  provider_linked: 'Linked: that provider now signs you in to this account.',
  provider_unlinked: 'Unlinked: that provider no longer signs you in here.',
};
const PROOF_REFUSED = 'Enter the current code from your authenticator app, or your password, to make this change.';

/**
 * /account: a person's own profile, password, second factor, sessions and app access. Who is asking
 * comes only from the issuer's session cookie, and every change is to that account alone.
 */
export function accountRoutes(dependencies: AccountDependencies): Router<RequestState> {
  const parts: Parts = { ...dependencies, account: new AccountPages(dependencies), router: new Router<RequestState>() };
  overviewRoutes(parts);
  passwordRoutes(parts);
  secondFactorRoutes(parts);
  accessRoutes(parts);
  profileRoutes(parts);
  passkeyRoutes(parts);
  apiKeyRoutes(parts);
  if (parts.federation) providerLinkRoutes({ ...parts.federation, router: parts.router, account: parts.account });
  return parts.router;
}

/** The overview, the end of the account's own sign-in, and signing out. */
function overviewRoutes({ router, account, pages, issuerUrl }: Parts): void {
  router.get('/account', async (ctx) => {
    const who = await account.signedIn(ctx);
    if (!who) return account.signIn(ctx);
    const notice = typeof ctx.query.notice === 'string' ? NOTICES[ctx.query.notice] : undefined;
    await account.overview(ctx, who, { notice });
  });

  router.get('/account/callback', (ctx) => {
    if (account.signInFinished(ctx)) return seeOther(ctx, account.returnPath(ctx));
    const page = {
      title: 'Sign-in did not finish',
      paragraphs: ['The sign-in was cancelled or has expired.'],
      link: { href: '/account', text: 'Try again' },
    };
    pages.render(ctx, 'message', page, 400);
  });

  router.get('/account/signed-out', (ctx) => {
    const paragraphs = ['You are signed out of Latchkey in this browser.'];
    pages.render(ctx, 'message', {
      title: 'Signed out',
      paragraphs,
      link: { href: '/account', text: 'Sign in again' },
    });
  });

  router.post('/account/sign-out', async (ctx) => {
    if (!(await account.formFrom(ctx))) return;
    const query = new URLSearchParams({
      client_id: ACCOUNT_CONSOLE_CLIENT_ID,
      post_logout_redirect_uri: `${issuerUrl}/account/signed-out`,
    });
    seeOther(ctx, `/session/end?${query.toString()}`);
  });
}

function passwordRoutes({
  router,
  account,
  pages,
  forms,
  policy,
  password,
  users,
  passwords,
  access,
  events,
}: Parts): void {
  const passwordPage = (ctx: Context, error?: string, status = 200) => {
    const page = { title: 'Change your password', csrf: forms.browserToken(ctx), minLength: policy.minLength };
    pages.render(ctx, 'account-password', { ...page, error }, status);
  };

  router.get('/account/password', async (ctx) => {
    if (!(await account.signedIn(ctx))) return account.signIn(ctx);
    passwordPage(ctx);
  });

  // Asks for the current password whatever the sign-in's age: a session left open must not be enough to take the account.
  router.post('/account/password', async (ctx) => {
    const signedIn = await account.formFrom(ctx);
    if (!signedIn) return;
    const { who, form } = signedIn;
    if (!(await password.confirmPassword(who.user, form.get('current_password') ?? '', ctx.ip)))
      return passwordPage(ctx, 'Your current password was not accepted.', 401);
    const newPassword = form.get('new_password') ?? '';
    const problem = passwordProblem(newPassword, who.user.email, policy);
    if (problem) return passwordPage(ctx, problem, 400);
    await users.setPasswordHash(who.user.id, await passwords.hash(newPassword));
    const signedOut = await access.revokeOtherSessions(who.user.id, who.sessionHandle);
    const detail = { otherSessionsEnded: signedOut };
    await events.record({ type: 'password.changed', userId: who.user.id, actor: who.user.id, ip: ctx.ip, detail });
    account.tellOwner(who, 'password_changed');
    seeOther(ctx, '/account?notice=password');
  });
}

/** Two-step verification: turn on (with a QR code and a first code), turn off, new recovery codes. */
function secondFactorRoutes({ router, account, pages, password, secondFactor, events }: Parts): void {
  /**
   * For changes to a second factor already on: a recent sign-in, and proof of holding the account
   * (a current code or the password) in the form. Otherwise the overview says why; undefined then.
   */
  async function provenHolder(ctx: Context, whenOff: string) {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return undefined;
    const { who, form } = signedIn;
    if (!who.user.totpEnabledAt) return void (await account.overview(ctx, who, { error: whenOff }, 409));
    if (!(await password.confirmHolder(who.user, form.get('proof') ?? '', ctx.ip)))
      return void (await account.overview(ctx, who, { error: PROOF_REFUSED }, 401));
    return who;
  }

  router.post('/account/totp/enroll', async (ctx) => {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return;
    const { who } = signedIn;
    if (who.user.totpEnabledAt)
      return account.overview(ctx, who, { error: 'Two-step verification is already on.' }, 409);
    const { secret, uri } = await secondFactor.beginEnrollment(who.user.id, who.user.email);
    await account.totpEnrollmentPage(ctx, uri, secret);
  });

  router.post('/account/totp/confirm', async (ctx) => {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return;
    const { who, form } = signedIn;
    const pending = await secondFactor.pendingEnrollment(who.user.id, who.user.email);
    if (!pending) return account.overview(ctx, who, { error: 'Start the set-up again.' }, 409);
    const codes = await secondFactor.confirmEnrollment(who.user.id, form.get('code') ?? '');
    const refused = 'That code was not accepted. Check the time on your phone and enter the current code.';
    if (!codes) return account.totpEnrollmentPage(ctx, pending.uri, pending.secret, refused);
    await events.record({ type: 'totp.enrolled', userId: who.user.id, actor: who.user.id, ip: ctx.ip });
    account.tellOwner(who, 'totp_enrolled');
    pages.render(ctx, 'account-recovery-codes', { title: 'Save your recovery codes', codes });
  });

  router.post('/account/totp/remove', async (ctx) => {
    const who = await provenHolder(ctx, 'Two-step verification is already off.');
    if (!who) return;
    await secondFactor.disable(who.user.id);
    await events.record({ type: 'totp.removed', userId: who.user.id, actor: who.user.id, ip: ctx.ip });
    account.tellOwner(who, 'totp_removed');
    seeOther(ctx, '/account?notice=totp_removed');
  });

  router.post('/account/recovery-codes', async (ctx) => {
    const who = await provenHolder(ctx, 'Turn on two-step verification first.');
    if (!who) return;
    const codes = await secondFactor.regenerateRecoveryCodes(who.user.id);
    await events.record({ type: 'recovery_codes.regenerated', userId: who.user.id, actor: who.user.id, ip: ctx.ip });
    pages.render(ctx, 'account-recovery-codes', { title: 'Save your recovery codes', codes });
  });
}

/** Browser sessions and app access: end one, end the others, take an app's access away. */
function accessRoutes({ router, account, access, events }: Parts): void {
  router.post('/account/sessions/revoke', async (ctx) => {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return;
    const { who, form } = signedIn;
    const handle = form.get('session') ?? '';
    if (handle === who.sessionHandle || !(await access.revokeSession(who.user.id, handle)))
      return account.overview(ctx, who, { error: 'That session was not found; it may have ended already.' }, 404);
    const event = { userId: who.user.id, actor: who.user.id, ip: ctx.ip, detail: { count: 1 } };
    await events.record({ type: 'session.revoked', ...event });
    seeOther(ctx, '/account?notice=session');
  });

  router.post('/account/sessions/revoke-others', async (ctx) => {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return;
    const { who } = signedIn;
    const count = await access.revokeOtherSessions(who.user.id, who.sessionHandle);
    await events.record({
      type: 'session.revoked',
      userId: who.user.id,
      actor: who.user.id,
      ip: ctx.ip,
      detail: { count },
    });
    seeOther(ctx, '/account?notice=sessions');
  });

  router.post('/account/apps/revoke', async (ctx) => {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return;
    const { who, form } = signedIn;
    if (!(await access.revokeGrant(who.user.id, form.get('grant') ?? '')))
      return account.overview(ctx, who, { error: 'That app was not found; its access may have ended already.' }, 404);
    await events.record({ type: 'grant.revoked', userId: who.user.id, actor: who.user.id, ip: ctx.ip });
    seeOther(ctx, '/account?notice=app');
  });
}
