import { randomInt, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { DeviceCookies } from './device-cookie.ts';
import type { Lockout } from '../../accounts/lockout.ts';
import type { MailTokens, SendBudget } from '../../accounts/mail-tokens.ts';
import type { Mailer } from '../../accounts/mail/mailer.ts';
import type { PasswordHasher } from '../../accounts/passwords.ts';
import type { SecondFactor } from '../../accounts/second-factor.ts';
import type { SecurityEvents } from '../../accounts/security-events.ts';
import type { UserRepository, UserRow } from '../../accounts/user-repository.ts';
import type { Cache } from '../../shared/cache/cache.ts';
import { badRequest } from '../../shared/http/errors.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import type { PageData, PageRenderer } from '../pages/page-renderer.ts';
import { describeScopes } from '../pages/scope-words.ts';
import type { FormGuard } from './form-guard.ts';
import { sha256Base64url } from '../../shared/crypto/digest.ts';

export interface InteractionDependencies {
  provider: () => Provider;
  users: UserRepository;
  passwords: PasswordHasher;
  lockout: Lockout;
  devices: DeviceCookies;
  mailer: Mailer;
  events: SecurityEvents;
  secondFactor: SecondFactor;
  /** Holds "first factor accepted, second pending" and magic-link codes, per interaction. */
  cache: Cache;
  guard: FormGuard;
  pages: PageRenderer;
  tokens: MailTokens;
  budget: SendBudget;
  issuerUrl: string;
  signUpEnabled: boolean;
  magicLinkTtlSeconds: number;
}

type FirstFactor = 'pwd' | 'email';

interface PendingSecondFactor {
  userId: string;
  firstFactor: FirstFactor;
}

interface MagicLinkData {
  uid: string;
  userId: string | null;
}

interface MagicCode {
  codeHash: string;
  tokenHash: string;
}

const GENERIC_FAILURE = 'That email and password do not match an active account.';
/** Nothing was checked (too soon after a failure, or too many checks at once): no verdict on the secret. */
const TRY_AGAIN_SHORTLY = 'Too many attempts just now. Wait a few seconds, then try again.';
const LINK_GONE = 'This sign-in link has expired or was already used. Ask for a new one on the sign-in page.';
const MAGIC_CODE_ATTEMPTS = 5;
/** Letters that cannot be mistaken for one another when read off one screen and typed on another. */
const CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

const normalizeCode = (code: string) => code.toUpperCase().replace(/[^A-Z]/g, '');
const newShortCode = () => {
  const raw = Array.from({ length: 8 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
  return `${raw.slice(0, 4)}-${raw.slice(4)}`;
};

function lockNotice(seconds: number, issuerUrl: string): string {
  const minutes = Math.ceil(seconds / 60);
  return `Someone tried to sign in to your Latchkey account with a wrong password several times, so sign-in is paused for ${minutes} minute(s).

Was this you? Then wait and try again. Browsers you have signed in with before can still sign in, and you can reset your password: ${issuerUrl}/reset
Was this not you? Your password was not accepted, and your account is safe. If your password may be known to someone else, change it: ${issuerUrl}/account

This is an automatic message.`;
}

function magicLinkMail(link: string, clientName: string): string {
  return `Someone (hopefully you) asked to sign in to ${clientName} with this email address.

Open this link in the same browser to sign in. It works once, for 10 minutes:
${link}

If you open it on another device, it shows a code to type into the browser that asked.
If you did not ask to sign in, ignore this message; nothing happens without the link.`;
}

/**
 * The sign-in steps oidc-provider hands over to us: email and password or an emailed link, then the
 * second factor when the account has one (every first factor goes through it), then consent for
 * third-party clients (first-party ones were granted in loadExistingGrant). Every POST checks its
 * origin and form token and answers with a page or a 303 back into the provider.
 */
export function interactionRoutes(dependencies: InteractionDependencies): Router<RequestState> {
  const {
    provider,
    users,
    passwords,
    lockout,
    devices,
    mailer,
    events,
    secondFactor,
    cache,
    guard,
    pages,
    tokens,
    budget,
    issuerUrl,
    signUpEnabled,
    magicLinkTtlSeconds,
  } = dependencies;
  const router = new Router<RequestState>();
  const pendingKey = (uid: string) => `interaction-2fa:${uid}`;
  const magicCodeKey = (uid: string) => `interaction-magic-code:${uid}`;
  const clientNameOf = async (clientId: unknown) =>
    (await provider().Client.find(String(clientId)))?.clientName ?? 'an application';

  const render = (ctx: Context, view: string, data: PageData, status = 200) => pages.render(ctx, view, data, status);
  /** The sign-in form; `email` fills the address in (a `login_hint`, or what was typed before a refusal). */
  const loginPage = async (
    ctx: Context,
    uid: string,
    clientId: unknown,
    error?: string,
    status = 200,
    email?: string,
  ) =>
    render(
      ctx,
      'login',
      {
        title: 'Sign in',
        uid,
        csrf: guard.tokenFor(uid),
        clientName: await clientNameOf(clientId),
        signUpEnabled,
        error,
        email,
      },
      status,
    );
  /** An OIDC `login_hint` that looks like an email address (anything else is ignored, as the spec allows). */
  const hintedEmail = (hint: unknown) =>
    typeof hint === 'string' && /^[^\s@]{1,64}@[^\s@]{1,255}$/.test(hint) ? hint : undefined;
  const secondFactorPage = async (ctx: Context, uid: string, clientId: unknown, error?: string, status = 200) =>
    render(
      ctx,
      'second-factor',
      {
        title: 'Two-step verification',
        uid,
        csrf: guard.tokenFor(uid),
        clientName: await clientNameOf(clientId),
        error,
      },
      status,
    );
  const magicSentPage = (ctx: Context, uid: string, error?: string, status = 200) =>
    render(ctx, 'magic-link-sent', { title: 'Check your email', uid, csrf: guard.tokenFor(uid), error }, status);
  const messagePage = (ctx: Context, title: string, paragraphs: string[], status = 200) =>
    render(ctx, 'message', { title, paragraphs }, status);

  const interactionAt = async (ctx: Context, prompt = 'login') => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== prompt) throw badRequest('This step of the sign-in is already done.');
    return details;
  };

  const notifyLock = async (
    user: { id: string; email: string } | null | undefined,
    ip: string,
    lockedForSeconds: number | undefined,
  ) => {
    if (lockedForSeconds === undefined || !user) return;
    await events.record({
      type: 'account.locked',
      userId: user.id,
      actor: 'system',
      ip,
      detail: { seconds: lockedForSeconds },
    });
    mailer.send({
      kind: 'account_locked',
      to: user.email,
      subject: 'Your Latchkey account was locked',
      text: lockNotice(lockedForSeconds, issuerUrl),
    });
  };

  async function finishSignIn(ctx: Context, userId: string, amr: string[], method: string): Promise<void> {
    devices.remember(ctx, userId);
    await events.record({ type: 'sign_in.succeeded', userId, actor: userId, ip: ctx.ip, detail: { method } });
    const acr = amr.length > 1 ? 'urn:latchkey:mfa' : `urn:latchkey:${amr[0]}`;
    const result: InteractionResults = { login: { accountId: userId, amr, acr } };
    const redirectTo = await provider().interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    seeOther(ctx, redirectTo);
  }

  /** Where every first factor (password, emailed link) ends: the second factor if enrolled, else a session. */
  async function afterFirstFactor(
    ctx: Context,
    uid: string,
    clientId: unknown,
    user: UserRow,
    firstFactor: FirstFactor,
  ): Promise<void> {
    if (user.totpEnabledAt) {
      const pending: PendingSecondFactor = { userId: user.id, firstFactor };
      await cache.set(pendingKey(uid), JSON.stringify(pending), 600);
      await secondFactorPage(ctx, uid, clientId);
      return;
    }
    await finishSignIn(ctx, user.id, [firstFactor], firstFactor === 'pwd' ? 'password' : 'magic_link');
  }

  router.get('/interaction/:uid', async (ctx) => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name === 'login') {
      const pending = await cache.get(pendingKey(details.uid));
      await (pending
        ? secondFactorPage(ctx, details.uid, details.params.client_id)
        : loginPage(
            ctx,
            details.uid,
            details.params.client_id,
            undefined,
            200,
            hintedEmail(details.params.login_hint),
          ));
      return;
    }
    const missingResourceScopes =
      (details.prompt.details.missingResourceScopes as Record<string, string[]> | undefined) ?? {};
    const scopes = [
      ...((details.prompt.details.missingOIDCScope as string[] | undefined) ?? []),
      ...Object.values(missingResourceScopes).flat(),
    ];
    render(ctx, 'consent', {
      title: 'Allow access?',
      uid: details.uid,
      csrf: guard.tokenFor(details.uid),
      clientName: await clientNameOf(details.params.client_id),
      scopes: describeScopes(scopes),
    });
  });

  router.post('/interaction/:uid/login', async (ctx) => {
    const details = await interactionAt(ctx);
    const form = await guard.readForm(ctx, details.uid);
    const email = (form.get('email') ?? '').trim().toLowerCase();
    const user = await users.findByEmail(email);
    const attempt = { userId: user?.id, email, ip: ctx.ip, trustedDeviceId: devices.trustedFor(ctx, user?.id) };
    const refuse = async (reason: string) => {
      await events.record({
        type: 'sign_in.failed',
        userId: user?.id,
        actor: user?.id ?? 'anonymous',
        ip: ctx.ip,
        detail: { reason, trustedDevice: attempt.trustedDeviceId !== undefined },
      });
      // The address stays filled in (trimmed and lower-cased, for a known and an unknown one alike): only the password is asked again.
      await loginPage(ctx, details.uid, details.params.client_id, GENERIC_FAILURE, 401, email.slice(0, 320));
    };

    const admission = await lockout.admit(attempt);
    if (!admission.admitted) {
      if (admission.reason === 'throttled' || admission.reason === 'busy') {
        ctx.set('Retry-After', String(admission.retryAfterSeconds));
        return loginPage(ctx, details.uid, details.params.client_id, TRY_AGAIN_SHORTLY, 429, email.slice(0, 320));
      }
      await notifyLock(user, ctx.ip, admission.lockedForSeconds);
      await refuse(admission.reason);
      return;
    }
    const valid = await passwords.verify(user?.passwordHash, form.get('password') ?? '');
    if (!user || !valid || user.disabledAt) {
      await notifyLock(user, ctx.ip, (await lockout.failed(attempt, admission.ticket)).lockedForSeconds);
      await refuse(!user ? 'unknown_email' : user.disabledAt ? 'disabled' : 'wrong_password');
      return;
    }
    // A hash made with weaker parameters than today's is upgraded now, while we hold the password.
    if (user.passwordHash && passwords.needsRehash(user.passwordHash))
      await users.setPasswordHash(user.id, await passwords.hash(form.get('password') ?? ''));
    // The password step is done: its slot goes back and its failures are forgiven. The second
    // factor, when enrolled, is counted on its own (it is never charged for the password's typos).
    await lockout.succeeded(admission.ticket);
    await afterFirstFactor(ctx, details.uid, details.params.client_id, user, 'pwd');
  });

  router.post('/interaction/:uid/second-factor', async (ctx) => {
    const details = await interactionAt(ctx);
    const stored = await cache.get(pendingKey(details.uid));
    if (!stored) throw badRequest('This sign-in has expired; start again from the application.');
    const { userId, firstFactor } = JSON.parse(stored) as PendingSecondFactor;
    const user = await users.findById(userId);
    const form = await guard.readForm(ctx, details.uid);
    const attempt = {
      userId,
      email: user?.email ?? '',
      ip: ctx.ip,
      trustedDeviceId: devices.trustedFor(ctx, userId),
      step: 'second_factor' as const,
    };
    const fail = async (reason: string) => {
      await events.record({ type: 'sign_in.failed', userId, actor: userId, ip: ctx.ip, detail: { reason } });
      await secondFactorPage(
        ctx,
        details.uid,
        details.params.client_id,
        'That code was not accepted. Try the current code, or a recovery code.',
        401,
      );
    };
    const admission = await lockout.admit(attempt);
    if (!admission.admitted) {
      if (admission.reason === 'throttled' || admission.reason === 'busy') {
        ctx.set('Retry-After', String(admission.retryAfterSeconds));
        return secondFactorPage(ctx, details.uid, details.params.client_id, TRY_AGAIN_SHORTLY, 429);
      }
      await notifyLock(user, ctx.ip, admission.lockedForSeconds);
      await fail(admission.reason);
      return;
    }
    const recoveryCode = form.get('recovery_code')?.trim();
    const method = recoveryCode ? 'recovery_code' : 'totp';
    const accepted = recoveryCode
      ? await secondFactor.useRecoveryCode(userId, recoveryCode)
      : await secondFactor.verifyCode(userId, form.get('code') ?? '');
    if (!accepted || !user || user.disabledAt) {
      await notifyLock(user, ctx.ip, (await lockout.failed(attempt, admission.ticket)).lockedForSeconds);
      await fail(`wrong_${method}`);
      return;
    }
    await cache.delete(pendingKey(details.uid));
    await lockout.succeeded(admission.ticket);
    if (recoveryCode) await events.record({ type: 'recovery_code.used', userId, actor: userId, ip: ctx.ip });
    const firstName = firstFactor === 'pwd' ? 'password' : 'magic_link';
    await finishSignIn(ctx, userId, [firstFactor, recoveryCode ? 'mfa' : 'otp'], `${firstName}+${method}`);
  });

  // An emailed sign-in link. The same page answers whether or not the address has an account, and
  // the same work is done either way (a token is made and stored, a mail composed), so neither words nor timing tell.
  router.post('/interaction/:uid/magic-link', async (ctx) => {
    const details = await interactionAt(ctx);
    const form = await guard.readForm(ctx, details.uid);
    const email = (form.get('email') ?? '').trim().toLowerCase().slice(0, 320);
    // The budget comes first: past it, nothing is looked up, stored or sent.
    if (email === '' || !(await budget.allow('magic_link', email, ctx.ip))) {
      await events.record({
        type: 'magic_link.requested',
        actor: 'anonymous',
        ip: ctx.ip,
        detail: { sent: false, limited: email !== '' },
      });
      return magicSentPage(ctx, details.uid);
    }
    const user = await users.findByEmail(email);
    const recipient = user && !user.disabledAt ? user : undefined;
    const data: MagicLinkData = { uid: details.uid, userId: recipient?.id ?? null };
    const [token, clientName] = await Promise.all([
      tokens.issue('magic_link', recipient?.id ?? `email:${email}`, data, magicLinkTtlSeconds),
      clientNameOf(details.params.client_id),
    ]);
    await events.record({
      type: 'magic_link.requested',
      userId: recipient?.id,
      actor: recipient?.id ?? 'anonymous',
      ip: ctx.ip,
      detail: { sent: recipient !== undefined, limited: false },
    });
    // From the configured issuer URL, never the request's Host header.
    const link = `${issuerUrl}/interaction/${encodeURIComponent(details.uid)}/magic/${token}`;
    const mail = {
      kind: 'magic_link',
      to: recipient?.email ?? email,
      subject: 'Your Latchkey sign-in link',
      text: magicLinkMail(link, clientName),
    };
    if (recipient) mailer.send(mail);
    else mailer.pretendToSend(mail);
    magicSentPage(ctx, details.uid);
  });

  // Opening the link does nothing by itself (mail scanners open links): in the browser that asked,
  // it shows a button; anywhere else, a short code to type into the browser that asked.
  router.get('/interaction/:uid/magic/:token', async (ctx) => {
    const { uid, token } = ctx.params as { uid: string; token: string };
    const record = await tokens.peek<MagicLinkData>('magic_link', token);
    if (!record?.data.userId || record.data.uid !== uid) {
      messagePage(ctx, 'Link expired', [LINK_GONE], 410);
      return;
    }
    const details = await provider()
      .interactionDetails(ctx.req, ctx.res)
      .catch(() => undefined);
    if (details?.uid === uid) {
      render(ctx, 'magic-link-open', {
        title: 'Sign in',
        sameBrowser: true,
        uid,
        token,
        csrf: guard.tokenFor(uid),
        clientName: await clientNameOf(details.params.client_id),
      });
      return;
    }
    const code = newShortCode();
    const stored: MagicCode = { codeHash: sha256Base64url(normalizeCode(code)), tokenHash: sha256Base64url(token) };
    await cache.set(
      magicCodeKey(uid),
      JSON.stringify(stored),
      Math.max(1, await tokens.secondsLeft('magic_link', token)),
    );
    render(ctx, 'magic-link-open', { title: 'Sign in on your other device', sameBrowser: false, code });
  });

  router.post('/interaction/:uid/magic/:token', async (ctx) => {
    const details = await interactionAt(ctx);
    await guard.readForm(ctx, details.uid);
    const { uid, token } = ctx.params as { uid: string; token: string };
    // Checked before it is used up: a link tried in the wrong sign-in stays good for the right one.
    const found = await tokens.peek<MagicLinkData>('magic_link', token);
    const record =
      uid === details.uid && found?.data.uid === details.uid
        ? await tokens.consume<MagicLinkData>('magic_link', token)
        : undefined;
    const user = record?.data.userId ? await users.findById(record.data.userId) : null;
    if (!user || user.disabledAt) {
      messagePage(ctx, 'Link expired', [LINK_GONE], 410);
      return;
    }
    await cache.delete(magicCodeKey(details.uid));
    if (!user.emailVerified) await users.setEmailVerified(user.id);
    await afterFirstFactor(ctx, details.uid, details.params.client_id, user, 'email');
  });

  router.post('/interaction/:uid/magic-code', async (ctx) => {
    const details = await interactionAt(ctx);
    const form = await guard.readForm(ctx, details.uid);
    const attempts = await cache.increment(`interaction-magic-code-attempts:${details.uid}`, magicLinkTtlSeconds);
    if (attempts > MAGIC_CODE_ATTEMPTS) {
      await cache.delete(magicCodeKey(details.uid));
      magicSentPage(ctx, details.uid, 'Too many wrong codes. Go back to sign-in and ask for a new link.', 429);
      return;
    }
    const stored = await cache.get(magicCodeKey(details.uid));
    const expected = stored ? Buffer.from((JSON.parse(stored) as MagicCode).codeHash) : Buffer.alloc(0);
    const given = Buffer.from(sha256Base64url(normalizeCode(form.get('code') ?? '')));
    if (!stored || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      magicSentPage(
        ctx,
        details.uid,
        'That code was not accepted. Open the link from the email again to see the current code.',
        401,
      );
      return;
    }
    const record = await tokens.consumeHash<MagicLinkData>('magic_link', (JSON.parse(stored) as MagicCode).tokenHash);
    await cache.delete(magicCodeKey(details.uid));
    const user =
      record?.data.userId && record.data.uid === details.uid ? await users.findById(record.data.userId) : null;
    if (!user || user.disabledAt) {
      messagePage(ctx, 'Link expired', [LINK_GONE], 410);
      return;
    }
    if (!user.emailVerified) await users.setEmailVerified(user.id);
    await afterFirstFactor(ctx, details.uid, details.params.client_id, user, 'email');
  });

  router.post('/interaction/:uid/consent', async (ctx) => {
    const oidc = provider();
    const details = await interactionAt(ctx, 'consent');
    const form = await guard.readForm(ctx, details.uid);
    let result: InteractionResults;
    if (form.get('decision') !== 'allow') {
      result = { error: 'access_denied', error_description: 'the user denied the request' };
    } else {
      const { session, params, prompt, grantId } = details;
      const grant = grantId
        ? await oidc.Grant.find(grantId)
        : new oidc.Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
      if (!grant) throw badRequest('This sign-in has expired; start again from the application.');
      const missingOIDCScope = prompt.details.missingOIDCScope as string[] | undefined;
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      const missingOIDCClaims = prompt.details.missingOIDCClaims as string[] | undefined;
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      const missingResourceScopes = prompt.details.missingResourceScopes as Record<string, string[]> | undefined;
      for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {}))
        grant.addResourceScope(indicator, scopes.join(' '));
      result = { consent: { grantId: await grant.save() } };
    }
    const redirectTo = await oidc.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    seeOther(ctx, redirectTo);
  });

  return router;
}
