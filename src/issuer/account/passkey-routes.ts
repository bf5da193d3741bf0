import type Router from '@koa/router';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { ceremonyResponse, type Passkeys } from '../../accounts/passkeys.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import type { AccountPages } from './account-pages.ts';

/**
 * /account's passkeys: add one (the page's script runs the ceremony; adding needs a recent
 * sign-in), rename, remove (recent sign-in; never the last way to sign in). The owner is mailed when
 * one is added or removed.
 */
export function passkeyRoutes({
  router,
  account,
  passkeys,
}: {
  router: Router<RequestState>;
  account: AccountPages;
  passkeys: Passkeys;
}): void {
  // The challenge for a new passkey, as JSON for the page's script.
  router.post('/account/passkeys/options', async (ctx) => {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await passkeys.registrationOptions(signedIn.who.user);
  });

  router.post('/account/passkeys', async (ctx) => {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return;
    const { who, form } = signedIn;
    const response = ceremonyResponse<RegistrationResponseJSON>(form.get('response'));
    const added = response && (await passkeys.register(who.user, response, form.get('name') ?? '', ctx.ip));
    if (!added) return account.overview(ctx, who, { error: 'No passkey was added. Try again from this page.' }, 400);
    account.tellOwner(who, 'passkey_added');
    seeOther(ctx, '/account?notice=passkey_added');
  });

  router.post('/account/passkeys/rename', async (ctx) => {
    const signedIn = await account.formFrom(ctx);
    if (!signedIn) return;
    const { who, form } = signedIn;
    await passkeys.rename(who.user, form.get('passkey') ?? '', form.get('name') ?? '', ctx.ip);
    seeOther(ctx, '/account?notice=passkey_renamed');
  });

  router.post('/account/passkeys/remove', async (ctx) => {
    const signedIn = await account.formFrom(ctx, { recent: true });
    if (!signedIn) return;
    const { who, form } = signedIn;
    const outcome = await passkeys.remove(who.user, form.get('passkey') ?? '', ctx.ip);
    if (outcome === 'last-method')
      return account.overview(ctx, who, { error: 'This passkey is your only way to sign in: add another first.' }, 409);
    if (outcome === 'removed') account.tellOwner(who, 'passkey_removed');
    seeOther(ctx, '/account?notice=passkey_removed');
  });
}
