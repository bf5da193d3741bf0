import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { DeviceCookies } from '../../accounts/device-cookie.ts';
import type { Lockout } from '../../accounts/lockout.ts';
import type { Mailer } from '../../accounts/mail/mailer.ts';
import type { PasswordHasher } from '../../accounts/passwords.ts';
import type { SecondFactor } from '../../accounts/second-factor.ts';
import type { SecurityEvents } from '../../accounts/security-events.ts';
import type { Cache } from '../../shared/cache/cache.ts';
import type { UserRepository } from '../../accounts/user-repository.ts';
import { badRequest } from '../../shared/http/errors.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { escapeHtml } from '../oidc/html.ts';
import { newNonce, type FormGuard } from './form-guard.ts';

export interface InteractionDependencies {
  provider: () => Provider;
  users: UserRepository;
  passwords: PasswordHasher;
  lockout: Lockout;
  devices: DeviceCookies;
  mailer: Mailer;
  events: SecurityEvents;
  secondFactor: SecondFactor;
  /** Holds "password accepted, second factor pending" for an interaction, for ten minutes. */
  cache: Cache;
  guard: FormGuard;
  issuerUrl: string;
}

interface InteractionState extends RequestState {
  nonce?: string;
}

interface PendingSecondFactor {
  userId: string;
}

function secondFactorPage(context: PageContext, uid: string, clientName: string, error?: string): string {
  return page(
    'Two-step verification',
    `<p>Enter the 6-digit code from your authenticator app to continue to <strong>${escapeHtml(clientName)}</strong>.</p>${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/second-factor">${csrfField(context)}
<label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" autofocus></label>
<button type="submit">Verify</button>
<details><summary>Use a recovery code instead</summary><label>Recovery code <input name="recovery_code" autocomplete="off"></label><button type="submit">Use recovery code</button></details>
</form>`,
    context,
  );
}

const GENERIC_FAILURE = 'That email and password do not match an active account.';

function lockNotice(seconds: number, issuerUrl: string): string {
  const minutes = Math.ceil(seconds / 60);
  return `Someone tried to sign in to your Latchkey account with a wrong password several times, so sign-in is paused for ${minutes} minute(s).

Was this you? Then wait and try again. Browsers you have signed in with before can still sign in.
Was this not you? Your password was not accepted, and your account is safe. If your password may be known to someone else, change it: ${issuerUrl}/account

This is an automatic message.`;
}

/** What every page needs from its request: the CSP nonce and the interaction's form token. */
interface PageContext {
  nonce: string;
  csrf: string;
}

const STYLES = 'body{font-family:system-ui,sans-serif;margin:0;padding:1.5rem;background:#f6f7f9;color:#1b1f24}main{max-width:26rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 3px #0002}label{display:block;margin:.8rem 0}input{display:block;width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;margin-top:.3rem}button{padding:.6rem 1.2rem;font-size:1rem;margin:.8rem .4rem 0 0}[role=alert]{color:#a40000}';

function page(title: string, body: string, context: PageContext): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · Latchkey</title><style nonce="${context.nonce}">${STYLES}</style></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

const csrfField = (context: PageContext) => `<input type="hidden" name="csrf" value="${escapeHtml(context.csrf)}">`;

function loginPage(context: PageContext, uid: string, clientName: string, error?: string): string {
  return page(
    'Sign in',
    `<p>to continue to <strong>${escapeHtml(clientName)}</strong></p>${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">${csrfField(context)}
<label>Email <input type="email" name="email" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`,
    context,
  );
}

/**
 * The sign-in steps oidc-provider hands over to us: email and password, then consent for
 * third-party clients (first-party ones were granted in loadExistingGrant). Every response is
 * no-store; every POST answers with a 303 back into the provider.
 */
export function interactionRoutes({ provider, users, passwords, lockout, devices, mailer, events, secondFactor, cache, guard, issuerUrl }: InteractionDependencies): Router<InteractionState> {
  const router = new Router<InteractionState>();
  const pendingKey = (uid: string) => `interaction-2fa:${uid}`;
  const pageContext = (ctx: { state: { nonce?: string } }, uid: string): PageContext => ({ nonce: ctx.state.nonce ?? '', csrf: guard.tokenFor(uid) });
  const clientNameOf = async (clientId: unknown) => (await provider().Client.find(String(clientId)))?.clientName ?? 'an application';

  const notifyLock = async (user: { id: string; email: string } | null | undefined, ip: string, lockedForSeconds: number | undefined) => {
    if (lockedForSeconds === undefined || !user) return;
    await events.record({ type: 'account.locked', userId: user.id, actor: 'system', ip, detail: { seconds: lockedForSeconds } });
    mailer.send({ kind: 'account_locked', to: user.email, subject: 'Your Latchkey account was locked', text: lockNotice(lockedForSeconds, issuerUrl) });
  };

  router.use(async (ctx, next) => {
    const nonce = newNonce();
    ctx.state.nonce = nonce;
    ctx.set('Cache-Control', 'no-store');
    // No form-action: Chromium applies it to the redirects after a POST, which end at the client's redirect URI.
    ctx.set('Content-Security-Policy', `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'`);
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
    await next();
  });

  router.get('/interaction/:uid', async (ctx) => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    const clientName = await clientNameOf(details.params.client_id);
    const context = pageContext(ctx, details.uid);
    ctx.type = 'html';
    if (details.prompt.name === 'login') {
      const pending = await cache.get(pendingKey(details.uid));
      ctx.body = pending ? secondFactorPage(context, details.uid, clientName) : loginPage(context, details.uid, clientName);
      return;
    }
    const scopes = [...new Set([...(details.prompt.details.missingOIDCScope as string[] | undefined ?? []), ...Object.values((details.prompt.details.missingResourceScopes as Record<string, string[]> | undefined) ?? {}).flat()])];
    ctx.body = page(
      'Allow access?',
      `<p><strong>${escapeHtml(clientName)}</strong> asks to:</p><ul>${scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join('')}</ul>
<form method="post" action="/interaction/${escapeHtml(details.uid)}/consent">${csrfField(context)}<button type="submit" name="decision" value="allow">Allow</button> <button type="submit" name="decision" value="deny">Deny</button></form>`,
      context,
    );
  });

  router.post('/interaction/:uid/login', async (ctx) => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') throw badRequest('This step of the sign-in is already done.');
    const form = await guard.readForm(ctx, details.uid);
    const email = (form.get('email') ?? '').trim().toLowerCase();
    const user = await users.findByEmail(email);
    const attempt = { userId: user?.id, email, ip: ctx.ip, trustedDeviceId: devices.trustedFor(ctx, user?.id) };
    const refuse = async (reason: string) => {
      await events.record({ type: 'sign_in.failed', userId: user?.id, actor: user?.id ?? 'anonymous', ip: ctx.ip, detail: { reason, trustedDevice: attempt.trustedDeviceId !== undefined } });
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginPage(pageContext(ctx, details.uid), details.uid, await clientNameOf(details.params.client_id), GENERIC_FAILURE);
    };

    const admission = await lockout.admit(attempt);
    if (!admission.admitted) {
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
    if (user.passwordHash && passwords.needsRehash(user.passwordHash)) await users.setPasswordHash(user.id, await passwords.hash(form.get('password') ?? ''));
    // Every path to a session passes here: with TOTP on, the password alone finishes nothing.
    if (user.totpEnabledAt) {
      const pending: PendingSecondFactor = { userId: user.id };
      await cache.set(pendingKey(details.uid), JSON.stringify(pending), 600);
      ctx.type = 'html';
      ctx.body = secondFactorPage(pageContext(ctx, details.uid), details.uid, await clientNameOf(details.params.client_id));
      return;
    }
    await lockout.succeeded(admission.ticket);
    devices.remember(ctx, user.id);
    await events.record({ type: 'sign_in.succeeded', userId: user.id, actor: user.id, ip: ctx.ip, detail: { method: 'password' } });
    const redirectTo = await provider().interactionResult(ctx.req, ctx.res, { login: { accountId: user.id, amr: ['pwd'], acr: 'urn:latchkey:pwd' } }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });

  router.post('/interaction/:uid/second-factor', async (ctx) => {
    const details = await provider().interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') throw badRequest('This step of the sign-in is already done.');
    const stored = await cache.get(pendingKey(details.uid));
    if (!stored) throw badRequest('This sign-in has expired; start again from the application.');
    const { userId } = JSON.parse(stored) as PendingSecondFactor;
    const user = await users.findById(userId);
    const form = await guard.readForm(ctx, details.uid);
    const attempt = { userId, email: user?.email ?? '', ip: ctx.ip, trustedDeviceId: devices.trustedFor(ctx, userId) };
    const fail = async (reason: string) => {
      await events.record({ type: 'sign_in.failed', userId, actor: userId, ip: ctx.ip, detail: { reason } });
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = secondFactorPage(pageContext(ctx, details.uid), details.uid, await clientNameOf(details.params.client_id), 'That code was not accepted. Try the current code, or a recovery code.');
    };
    const admission = await lockout.admit(attempt);
    if (!admission.admitted) {
      await notifyLock(user, ctx.ip, admission.lockedForSeconds);
      await fail(admission.reason);
      return;
    }
    const recoveryCode = form.get('recovery_code')?.trim();
    const method = recoveryCode ? 'recovery_code' : 'totp';
    const accepted = recoveryCode ? await secondFactor.useRecoveryCode(userId, recoveryCode) : await secondFactor.verifyCode(userId, form.get('code') ?? '');
    if (!accepted || !user || user.disabledAt) {
      await notifyLock(user, ctx.ip, (await lockout.failed(attempt, admission.ticket)).lockedForSeconds);
      await fail(`wrong_${method}`);
      return;
    }
    await cache.delete(pendingKey(details.uid));
    await lockout.succeeded(admission.ticket);
    devices.remember(ctx, userId);
    if (recoveryCode) await events.record({ type: 'recovery_code.used', userId, actor: userId, ip: ctx.ip });
    await events.record({ type: 'sign_in.succeeded', userId, actor: userId, ip: ctx.ip, detail: { method: `password+${method}` } });
    const amr = recoveryCode ? ['pwd', 'mfa'] : ['pwd', 'otp'];
    const redirectTo = await provider().interactionResult(ctx.req, ctx.res, { login: { accountId: userId, amr, acr: 'urn:latchkey:mfa' } }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });

  router.post('/interaction/:uid/consent', async (ctx) => {
    const oidc = provider();
    const details = await oidc.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'consent') throw badRequest('This step of the sign-in is already done.');
    const form = await guard.readForm(ctx, details.uid);
    let result;
    if (form.get('decision') !== 'allow') {
      result = { error: 'access_denied', error_description: 'the user denied the request' };
    } else {
      const { session, params, prompt, grantId } = details;
      const grant = grantId ? await oidc.Grant.find(grantId) : new oidc.Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
      if (!grant) throw badRequest('This sign-in has expired; start again from the application.');
      const missingOIDCScope = prompt.details.missingOIDCScope as string[] | undefined;
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      const missingOIDCClaims = prompt.details.missingOIDCClaims as string[] | undefined;
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      const missingResourceScopes = prompt.details.missingResourceScopes as Record<string, string[]> | undefined;
      for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
      result = { consent: { grantId: await grant.save() } };
    }
    const redirectTo = await oidc.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });

  return router;
}
