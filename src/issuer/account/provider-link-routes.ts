import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { FederatedSignIn } from '../../accounts/federation/federated-sign-in.ts';
import type { Cache } from '../../shared/cache/cache.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import type { UpstreamClient } from '../federation/upstream-client.ts';
import type { UpstreamProviders } from '../federation/upstream-providers.ts';
import { startTrip, take, type TripResult } from '../interactions/federation-routes.ts';
import type { AccountPages } from './account-pages.ts';

export interface ProviderLinkParts {
  router: Router<RequestState>;
  account: AccountPages;
  providers: UpstreamProviders;
  upstream: UpstreamClient;
  federated: FederatedSignIn;
  cache: Cache;
  log: Logger;
}

/**
 * /account's sign-in providers: a signed-in person links another provider whatever its address
 * (the upstream round trip proves the upstream account; the session, recent, proves this one), and
 * unlinks one unless it is the account's last way to sign in.
 */
export function providerLinkRoutes({
  router,
  account,
  providers,
  upstream,
  federated,
  cache,
  log,
}: ProviderLinkParts): void {
  router.post('/account/providers/link', async (ctx) => {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return;
    const { who, form } = signedIn;
    const provider = await providers.forSignIn({ slug: form.get('provider') ?? '' });
    if (!provider?.enabled) return account.overview(ctx, who, { error: 'There is no such provider.' }, 404);
    const handle = randomBytes(18).toString('base64url');
    try {
      await startTrip({ upstream, cache }, ctx, provider, { purpose: 'link', userId: who.user.id, handle });
    } catch (error) {
      log.warn(
        { provider: provider.slug, errMessage: (error as Error).message },
        'could not start linking an upstream provider',
      );
      await account.overview(ctx, who, { error: `${provider.name} cannot be reached just now. Try again later.` }, 502);
    }
  });

  router.get('/account/providers/finish', async (ctx) => {
    const who = await account.signedIn(ctx);
    if (!who) return account.signIn(ctx);
    const handle = typeof ctx.query.handle === 'string' ? ctx.query.handle : '';
    const result = handle
      ? await take<TripResult & { userId?: string }>(cache, `federation-result:${handle}`)
      : undefined;
    // The link is made for the account that started it, in the browser signed in as it.
    if (!result || result.userId !== who.user.id)
      return account.overview(ctx, who, { error: 'That link did not finish; start it again from this page.' }, 400);
    const provider = await providers.forSignIn({ id: result.providerId });
    if (!provider || 'failure' in result)
      return account.overview(
        ctx,
        who,
        { error: 'The other provider did not confirm the link. Nothing was linked.' },
        400,
      );
    const linked = await federated.linkProven(who.user.id, provider, result.person, ctx.ip);
    if (linked === 'taken')
      return account.overview(
        ctx,
        who,
        { error: `That ${provider.name} account is linked to another account here.` },
        409,
      );
    seeOther(ctx, '/account?notice=provider_linked');
  });

  router.post('/account/providers/unlink', async (ctx) => {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return;
    const { who, form } = signedIn;
    const outcome = await federated.unlink(who.user.id, form.get('identity') ?? '', ctx.ip);
    if (outcome === 'last-method')
      return account.overview(
        ctx,
        who,
        { error: 'This is your only way to sign in: set a password or add a passkey first.' },
        409,
      );
    if (outcome === 'not-found') return account.overview(ctx, who, { error: 'That link was not found.' }, 404);
    seeOther(ctx, '/account?notice=provider_unlinked');
  });
}
