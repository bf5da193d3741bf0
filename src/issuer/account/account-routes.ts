import { randomBytes, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import QRCode from 'qrcode';
import type { Mailer } from '../../accounts/mail/mailer.ts';
import { passwordProblem, type PasswordPolicy } from '../../accounts/password-policy.ts';
import type { PasswordHasher } from '../../accounts/passwords.ts';
import type { PasswordSignIn } from '../../accounts/sign-in/password-sign-in.ts';
import { securityChange, type SecurityChange } from '../../accounts/mail/messages.ts';
import type { SecondFactor } from '../../accounts/second-factor.ts';
import type { SecurityEvents } from '../../accounts/security-events.ts';
import type { UserRepository, UserRow } from '../../accounts/user-repository.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import { currentSession } from '../oidc/session-index.ts';
import type { FormGuard } from '../interactions/form-guard.ts';
import { WAY_TO_ACCOUNT } from '../http/page-errors.ts';
import type { PageData, PageRenderer } from '../pages/page-renderer.ts';
import type { AccountAccess } from './account-access.ts';
import { ACCOUNT_CONSOLE_CLIENT_ID } from './account-console-client.ts';

export interface AccountDependencies {
  provider: () => Provider;
  users: UserRepository;
  passwords: PasswordHasher;
  policy: PasswordPolicy;
  /** Checks the current password or code, counted by the lockout like any sign-in. */
  password: PasswordSignIn;
  secondFactor: SecondFactor;
  events: SecurityEvents;
  mailer: Mailer;
  access: AccountAccess;
  forms: FormGuard;
  pages: PageRenderer;
  issuerUrl: string;
  /** Sensitive changes need a sign-in at most this old; past it, the person signs in again first. */
  recentSignInSeconds: number;
}

const STATE_COOKIE = 'latchkey.account-state';

interface SignedIn {
  user: UserRow;
  /** The handle of this browser's session (the hash of its id). */
  sessionHandle: string;
  signedInAt: number;
}

const when = (date: Date | undefined) =>
  date ? date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : 'unknown';
const groupsOfFour = (secret: string) => secret.replace(/(.{4})/g, '$1 ').trim();

/**
 * /account: a person's own profile, password, second factor, sessions and app access. Who is asking
 * comes only from the issuer's session cookie, and every change is to that account alone.
 */
export function accountRoutes(dependencies: AccountDependencies): Router<RequestState> {
  const {
    provider,
    users,
    passwords,
    policy,
    password,
    secondFactor,
    events,
    mailer,
    access,
    forms,
    pages,
    issuerUrl,
    recentSignInSeconds,
  } = dependencies;
  const router = new Router<RequestState>();
  const secure = issuerUrl.startsWith('https://');

  async function signedIn(ctx: Context): Promise<SignedIn | undefined> {
    const session = await currentSession(provider(), ctx);
    if (!session) return undefined;
    const user = await users.findById(session.accountId);
    if (!user || user.disabledAt) return undefined;
    return { user, sessionHandle: session.handle, signedInAt: session.loginTs };
  }

  /** Sends the browser through the issuer's own sign-in; `again` forces the password (and second factor) to be asked. */
  function signIn(ctx: Context, again = false): void {
    const state = randomBytes(16).toString('base64url');
    ctx.cookies.set(STATE_COOKIE, state, {
      httpOnly: true,
      sameSite: 'lax',
      secure,
      path: '/account',
      maxAge: 3_600_000,
      overwrite: true,
      signed: false,
    });
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

  const isRecent = (who: SignedIn) => Date.now() / 1000 - who.signedInAt <= recentSignInSeconds;

  /** Mails the owner about a change to the account's security, with the way back if it was not them. */
  const tellOwner = (who: SignedIn, change: SecurityChange) =>
    mailer.send({ to: who.user.email, ...securityChange(change, issuerUrl) });

  async function overview(ctx: Context, who: SignedIn, extra: Partial<PageData> = {}, status = 200): Promise<void> {
    const [sessions, grants, recoveryCodesLeft] = await Promise.all([
      access.sessions(who.user.id),
      access.grants(who.user.id),
      secondFactor.recoveryCodesLeft(who.user.id),
    ]);
    const apps = await Promise.all(
      grants.map(async (grant) => ({
        handle: grant.grantId,
        clientName: (await provider().Client.find(grant.clientId))?.clientName ?? grant.clientId,
        scopes: grant.scopes.join(', '),
      })),
    );
    pages.render(
      ctx,
      'account',
      {
        title: 'Your account',
        wide: true,
        csrf: forms.browserToken(ctx),
        email: who.user.email,
        emailVerified: who.user.emailVerified,
        role: who.user.role,
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
        ...extra,
      },
      status,
    );
  }

  /** The signed-in person for a form POST (origin and form token checked), or a redirect to sign in. */
  async function formFrom(
    ctx: Context,
    options: { recent?: boolean } = {},
  ): Promise<{ who: SignedIn; form: URLSearchParams } | undefined> {
    const form = await forms.readBrowserForm(ctx, WAY_TO_ACCOUNT);
    const who = await signedIn(ctx);
    if (!who) {
      signIn(ctx);
      return undefined;
    }
    if (options.recent && !isRecent(who)) {
      // Asked again, with the second factor when enrolled; the person then repeats the change.
      signIn(ctx, true);
      return undefined;
    }
    return { who, form };
  }

  const checkCurrentPassword = (ctx: Context, who: SignedIn, given: string) =>
    password.confirmPassword(who.user, given, ctx.ip);
  const provesHolder = (ctx: Context, who: SignedIn, proof: string) => password.confirmHolder(who.user, proof, ctx.ip);
  const PROOF_REFUSED = 'Enter the current code from your authenticator app, or your password, to make this change.';

  async function totpEnrollmentPage(
    ctx: Context,
    who: SignedIn,
    uri: string,
    secret: string,
    error?: string,
  ): Promise<void> {
    const qrDataUrl = await QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, scale: 5 });
    pages.render(
      ctx,
      'account-totp',
      {
        title: 'Set up two-step verification',
        csrf: forms.browserToken(ctx),
        qrDataUrl,
        secretGroups: groupsOfFour(secret),
        error,
      },
      error ? 400 : 200,
    );
  }

  router.get('/account', async (ctx) => {
    const who = await signedIn(ctx);
    if (!who) return signIn(ctx);
    const notice = typeof ctx.query.notice === 'string' ? NOTICES[ctx.query.notice] : undefined;
    await overview(ctx, who, { notice });
  });

  router.get('/account/callback', (ctx) => {
    const expected = Buffer.from(ctx.cookies.get(STATE_COOKIE) ?? '');
    const given = Buffer.from(typeof ctx.query.state === 'string' ? ctx.query.state : '');
    ctx.cookies.set(STATE_COOKIE, null, { path: '/account', overwrite: true });
    const validState = expected.length > 0 && expected.length === given.length && timingSafeEqual(expected, given);
    if (!validState || ctx.query.iss !== issuerUrl || typeof ctx.query.error === 'string') {
      pages.render(
        ctx,
        'message',
        {
          title: 'Sign-in did not finish',
          paragraphs: ['The sign-in was cancelled or has expired.'],
          link: { href: '/account', text: 'Try again' },
        },
        400,
      );
      return;
    }
    seeOther(ctx, '/account');
  });

  router.get('/account/signed-out', (ctx) => {
    pages.render(ctx, 'message', {
      title: 'Signed out',
      paragraphs: ['You are signed out of Latchkey in this browser.'],
      link: { href: '/account', text: 'Sign in again' },
    });
  });

  router.get('/account/password', async (ctx) => {
    const who = await signedIn(ctx);
    if (!who) return signIn(ctx);
    pages.render(ctx, 'account-password', {
      title: 'Change your password',
      csrf: forms.browserToken(ctx),
      minLength: policy.minLength,
    });
  });

  // Asks for the current password whatever the sign-in's age: a session left open must not be enough to take the account.
  router.post('/account/password', async (ctx) => {
    const signedInForm = await formFrom(ctx);
    if (!signedInForm) return;
    const { who, form } = signedInForm;
    const again = (error: string, status: number) =>
      pages.render(
        ctx,
        'account-password',
        { title: 'Change your password', csrf: forms.browserToken(ctx), minLength: policy.minLength, error },
        status,
      );
    if (!(await checkCurrentPassword(ctx, who, form.get('current_password') ?? '')))
      return again('Your current password was not accepted.', 401);
    const newPassword = form.get('new_password') ?? '';
    const problem = passwordProblem(newPassword, who.user.email, policy);
    if (problem) return again(problem, 400);
    await users.setPasswordHash(who.user.id, await passwords.hash(newPassword));
    const signedOut = await access.revokeOtherSessions(who.user.id, who.sessionHandle);
    await events.record({
      type: 'password.changed',
      userId: who.user.id,
      actor: who.user.id,
      ip: ctx.ip,
      detail: { otherSessionsEnded: signedOut },
    });
    tellOwner(who, 'password_changed');
    seeOther(ctx, '/account?notice=password');
  });

  router.post('/account/totp/enroll', async (ctx) => {
    const signedInForm = await formFrom(ctx, { recent: true });
    if (!signedInForm) return;
    const { who } = signedInForm;
    if (who.user.totpEnabledAt) return overview(ctx, who, { error: 'Two-step verification is already on.' }, 409);
    const { secret, uri } = await secondFactor.beginEnrollment(who.user.id, who.user.email);
    await totpEnrollmentPage(ctx, who, uri, secret);
  });

  router.post('/account/totp/confirm', async (ctx) => {
    const signedInForm = await formFrom(ctx, { recent: true });
    if (!signedInForm) return;
    const { who, form } = signedInForm;
    const pending = await secondFactor.pendingEnrollment(who.user.id, who.user.email);
    if (!pending) return overview(ctx, who, { error: 'Start the set-up again.' }, 409);
    const codes = await secondFactor.confirmEnrollment(who.user.id, form.get('code') ?? '');
    if (!codes)
      return totpEnrollmentPage(
        ctx,
        who,
        pending.uri,
        pending.secret,
        'That code was not accepted. Check the time on your phone and enter the current code.',
      );
    await events.record({ type: 'totp.enrolled', userId: who.user.id, actor: who.user.id, ip: ctx.ip });
    tellOwner(who, 'totp_enrolled');
    pages.render(ctx, 'account-recovery-codes', { title: 'Save your recovery codes', codes });
  });

  router.post('/account/totp/remove', async (ctx) => {
    const signedInForm = await formFrom(ctx, { recent: true });
    if (!signedInForm) return;
    const { who, form } = signedInForm;
    if (!who.user.totpEnabledAt) return overview(ctx, who, { error: 'Two-step verification is already off.' }, 409);
    if (!(await provesHolder(ctx, who, form.get('proof') ?? '')))
      return overview(ctx, who, { error: PROOF_REFUSED }, 401);
    await secondFactor.disable(who.user.id);
    await events.record({ type: 'totp.removed', userId: who.user.id, actor: who.user.id, ip: ctx.ip });
    tellOwner(who, 'totp_removed');
    seeOther(ctx, '/account?notice=totp_removed');
  });

  router.post('/account/recovery-codes', async (ctx) => {
    const signedInForm = await formFrom(ctx, { recent: true });
    if (!signedInForm) return;
    const { who, form } = signedInForm;
    if (!who.user.totpEnabledAt) return overview(ctx, who, { error: 'Turn on two-step verification first.' }, 409);
    if (!(await provesHolder(ctx, who, form.get('proof') ?? '')))
      return overview(ctx, who, { error: PROOF_REFUSED }, 401);
    const codes = await secondFactor.regenerateRecoveryCodes(who.user.id);
    await events.record({ type: 'recovery_codes.regenerated', userId: who.user.id, actor: who.user.id, ip: ctx.ip });
    pages.render(ctx, 'account-recovery-codes', { title: 'Save your recovery codes', codes });
  });

  router.post('/account/sessions/revoke', async (ctx) => {
    const signedInForm = await formFrom(ctx, { recent: true });
    if (!signedInForm) return;
    const { who, form } = signedInForm;
    const handle = form.get('session') ?? '';
    if (handle === who.sessionHandle || !(await access.revokeSession(who.user.id, handle)))
      return overview(ctx, who, { error: 'That session was not found; it may have ended already.' }, 404);
    await events.record({
      type: 'session.revoked',
      userId: who.user.id,
      actor: who.user.id,
      ip: ctx.ip,
      detail: { count: 1 },
    });
    seeOther(ctx, '/account?notice=session');
  });

  router.post('/account/sessions/revoke-others', async (ctx) => {
    const signedInForm = await formFrom(ctx, { recent: true });
    if (!signedInForm) return;
    const { who } = signedInForm;
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
    const signedInForm = await formFrom(ctx, { recent: true });
    if (!signedInForm) return;
    const { who, form } = signedInForm;
    const grantId = form.get('grant') ?? '';
    if (!(await access.revokeGrant(who.user.id, grantId)))
      return overview(ctx, who, { error: 'That app was not found; its access may have ended already.' }, 404);
    await events.record({ type: 'grant.revoked', userId: who.user.id, actor: who.user.id, ip: ctx.ip });
    seeOther(ctx, '/account?notice=app');
  });

  router.post('/account/sign-out', async (ctx) => {
    const signedInForm = await formFrom(ctx);
    if (!signedInForm) return;
    seeOther(
      ctx,
      `/session/end?${new URLSearchParams({ client_id: ACCOUNT_CONSOLE_CLIENT_ID, post_logout_redirect_uri: `${issuerUrl}/account/signed-out` }).toString()}`,
    );
  });

  return router;
}

const NOTICES: Record<string, string> = {
  password: 'Your password is changed. Other browsers were signed out.',
  totp_removed: 'Two-step verification is off.',
  session: 'That browser is signed out.',
  sessions: 'Every other browser is signed out.',
  app: 'That app no longer has access.',
};
