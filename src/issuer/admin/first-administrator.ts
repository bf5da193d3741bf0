import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountCreationService } from '../../accounts/account-creation.ts';
import { emailFromForm, isPlausibleEmail } from '../../accounts/email-address.ts';
import type { PasswordPolicy } from '../../accounts/password-policy.ts';
import type { Cache } from '../../shared/cache/cache.ts';
import { sha256Base64url } from '../../shared/crypto/digest.ts';
import type { PrismaClient } from '../../shared/database/generated/issuer/client.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import type { FormGuard } from '../interactions/form-guard.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import { ADMIN_ROLE } from './admin-api.ts';

/** How long a setup link works. */
export const SETUP_LINK_TTL_SECONDS = 3_600;
const keyOf = (token: string) => `first-admin-setup:${sha256Base64url(token)}`;

/** True while no enabled account holds the admin role. */
export async function needsFirstAdministrator(db: PrismaClient): Promise<boolean> {
  const admins = await db.userRole.count({ where: { role: { name: ADMIN_ROLE }, user: { disabledAt: null } } });
  return admins === 0;
}

/** The roles of the first administrator: the default roles, and admin. */
async function administratorRoles(db: PrismaClient): Promise<string[]> {
  const defaults = await db.role.findMany({ where: { isDefault: true }, select: { name: true } });
  return [...new Set([...defaults.map((role) => role.name), ADMIN_ROLE])];
}

export interface FirstAdministratorOptions {
  db: PrismaClient;
  cache: Cache;
  accounts: AccountCreationService;
  issuerUrl: string;
  bootstrap: { email: string; password: string } | undefined;
  log: Logger;
  /** Where the one-time link is printed (standard output): never the structured log, which is kept. */
  announce: (line: string) => void;
}

/**
 * At each start while no administrator exists: with LATCHKEY_BOOTSTRAP_ADMIN_EMAIL and its
 * password, create one; otherwise print a one-time setup link (256 random bits, only its hash
 * stored, single use, an hour). A new link at each start until an administrator exists.
 */
export async function offerFirstAdministrator(options: FirstAdministratorOptions): Promise<void> {
  const { db, cache, accounts, bootstrap, log } = options;
  if (!(await needsFirstAdministrator(db))) return;
  if (bootstrap) {
    const created = await accounts.create({
      email: bootstrap.email,
      password: bootstrap.password,
      roles: await administratorRoles(db),
      emailVerified: true,
      event: { type: 'admin.first_administrator', actor: 'system', detail: { via: 'bootstrap' } },
    });
    if (created.outcome === 'password-refused')
      throw new Error(`LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD is refused by the password policy: ${created.problem}`);
    if (created.outcome === 'exists')
      throw new Error(
        `LATCHKEY_BOOTSTRAP_ADMIN_EMAIL names an existing account that is not an administrator: give it the admin role with latchkey instead`,
      );
    log.info({ userId: created.user.id }, 'first administrator created from LATCHKEY_BOOTSTRAP_ADMIN_EMAIL');
    return;
  }
  const token = randomBytes(32).toString('base64url');
  await cache.set(keyOf(token), '1', SETUP_LINK_TTL_SECONDS);
  log.info('no administrator yet: a one-time setup link is printed on standard output');
  options.announce(
    `\n  No administrator yet. Create the first one within an hour at:\n    ${options.issuerUrl}/setup/${token}\n  (a new link at each start until one exists)\n\n`,
  );
}

export interface SetupPageOptions {
  db: PrismaClient;
  cache: Cache;
  accounts: AccountCreationService;
  policy: PasswordPolicy;
  forms: FormGuard;
  pages: PageRenderer;
}

/** The page a setup link opens: an address and a password make the first administrator, once. */
export function setupRoutes({ db, cache, accounts, policy, forms, pages }: SetupPageOptions): Router<RequestState> {
  const router = new Router<RequestState>();
  const tokenOf = (ctx: Context) => (ctx.params as { token: string }).token;
  const live = async (token: string) =>
    /^[A-Za-z0-9_-]{43}$/.test(token) &&
    (await cache.get(keyOf(token))) !== null &&
    (await needsFirstAdministrator(db));
  const gone = (ctx: Context) =>
    pages.render(
      ctx,
      'message',
      {
        title: 'Link expired',
        paragraphs: [
          'This setup link has expired or was used. Restart Latchkey for a new one while no administrator exists.',
        ],
      },
      410,
    );
  const form = (ctx: Context, error?: string, email = '', status = 200) =>
    pages.render(
      ctx,
      'setup',
      {
        title: 'Create the first administrator',
        csrf: forms.browserToken(ctx),
        token: tokenOf(ctx),
        minLength: policy.minLength,
        error,
        email,
      },
      status,
    );

  router.get('/setup/:token', async (ctx) => {
    if (!(await live(tokenOf(ctx)))) return gone(ctx);
    form(ctx);
  });

  router.post('/setup/:token', async (ctx) => {
    const body = await forms.readBrowserForm(ctx);
    if (!(await live(tokenOf(ctx)))) return gone(ctx);
    const email = emailFromForm(body.get('email'));
    if (!isPlausibleEmail(email)) return form(ctx, 'Enter a valid email address.', email, 400);
    const password = body.get('password') ?? '';
    const problem = accounts.passwordProblem(password, email);
    if (problem) return form(ctx, problem, email, 400);
    // Single use: whoever takes the token first creates the administrator.
    if ((await cache.take(keyOf(tokenOf(ctx)))) === null) return gone(ctx);
    const created = await accounts.create({
      email,
      password,
      roles: await administratorRoles(db),
      emailVerified: true,
      event: { type: 'admin.first_administrator', ip: ctx.ip, detail: { via: 'setup_link' } },
    });
    if (created.outcome !== 'created') return form(ctx, 'That address already has an account.', email, 409);
    pages.render(ctx, 'message', {
      title: 'Administrator created',
      paragraphs: [
        `${email} is an administrator. Sign in to your account now and turn on two-step verification: changes through the admin API need it.`,
      ],
      link: { href: '/account', text: 'Sign in and set up two-step verification' },
    });
  });
  return router;
}
