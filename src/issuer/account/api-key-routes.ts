import type Router from '@koa/router';
import type { Context } from 'koa';
import { ApiKeyInputError, splitPermission, type ApiKeys } from '../api-keys/api-keys.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import type { SecurityEvents } from '../../accounts/security-events.ts';
import type { FormGuard } from '../interactions/form-guard.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import type { AccountPages, SignedIn } from './account-pages.ts';

const LIFETIMES = [
  { days: 30, label: '30 days' },
  { days: 90, label: '90 days' },
  { days: 180, label: '180 days' },
  { days: 365, label: 'One year' },
];
const NOTICES: Record<string, string> = { revoked: 'The key is revoked: it no longer works anywhere.' };
const day = (date: Date) => date.toISOString().slice(0, 10);

interface KeyRouteParts {
  router: Router<RequestState>;
  account: AccountPages;
  pages: PageRenderer;
  forms: FormGuard;
  apiKeys: ApiKeys;
  events: SecurityEvents;
}

/**
 * /account/keys: a person's personal access tokens. Listed with what they may do and when they were
 * last used; made (after a recent sign-in, with a subset of what the person holds, the key shown
 * once on the answer page only) and revoked here.
 */
export function apiKeyRoutes({ router, account, pages, forms, apiKeys, events }: KeyRouteParts): void {
  async function keysPage(ctx: Context, who: SignedIn, extra: { error?: string; name?: string } = {}, status = 200) {
    const [keys, held] = await Promise.all([
      apiKeys.list({ userId: who.user.id }),
      apiKeys.held({ userId: who.user.id }),
    ]);
    const now = Date.now();
    pages.render(
      ctx,
      'account-keys',
      {
        title: 'API keys',
        wide: true,
        csrf: forms.browserToken(ctx),
        notice: typeof ctx.query.notice === 'string' ? NOTICES[ctx.query.notice] : undefined,
        keys: keys.map((key) => ({
          id: key.id,
          name: key.name,
          prefix: key.prefix,
          permissions: key.permissions.map((permission) => splitPermission(permission).scope).join(', '),
          expires: day(key.expiresAt),
          lastUsed: key.lastUsedAt ? `${day(key.lastUsedAt)} from ${key.lastUsedIp ?? 'an unknown address'}` : 'Never',
          state: key.revokedAt ? 'Revoked' : key.expiresAt.getTime() <= now ? 'Expired' : 'Active',
          active: !key.revokedAt && key.expiresAt.getTime() > now,
        })),
        permissions: [...held].sort().map((permission) => ({ value: permission, ...splitPermission(permission) })),
        lifetimes: LIFETIMES,
        name: extra.name ?? '',
        ...(extra.error ? { error: extra.error } : {}),
      },
      status,
    );
  }

  router.get('/account/keys', async (ctx) => {
    const who = await account.signedIn(ctx);
    if (!who) return account.signIn(ctx);
    await keysPage(ctx, who);
  });

  // Making a key needs a recent sign-in: a browser left signed in must not be enough to mint a credential.
  router.post('/account/keys', async (ctx) => {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return;
    const { who, form } = signedIn;
    const name = form.get('name') ?? '';
    try {
      const { key, record } = await apiKeys.create(
        { userId: who.user.id },
        { name, permissions: form.getAll('permission'), expiresInDays: Number(form.get('days') ?? '90') },
      );
      await events.record({
        type: 'api_key.created',
        userId: who.user.id,
        actor: who.user.id,
        ip: ctx.ip,
        detail: { keyId: record.id, prefix: record.prefix },
      });
      pages.render(ctx, 'account-key-created', {
        title: 'Copy your new key',
        key,
        name: record.name,
        expires: day(record.expiresAt),
        script: 'copy-key',
      });
    } catch (error) {
      if (!(error instanceof ApiKeyInputError)) throw error;
      await keysPage(ctx, who, { error: `No key was made: ${error.message}.`, name }, 400);
    }
  });

  router.post('/account/keys/revoke', async (ctx) => {
    const signedIn = await account.formFrom(ctx);
    if (!signedIn) return;
    const { who, form } = signedIn;
    const key = await apiKeys.revoke(form.get('key') ?? '', { userId: who.user.id }).catch(() => undefined);
    if (!key) return keysPage(ctx, who, { error: 'That key was not found.' }, 404);
    await events.record({
      type: 'api_key.revoked',
      userId: who.user.id,
      actor: who.user.id,
      ip: ctx.ip,
      detail: { keyId: key.id, prefix: key.prefix, by: 'owner' },
    });
    seeOther(ctx, '/account/keys?notice=revoked');
  });
}
