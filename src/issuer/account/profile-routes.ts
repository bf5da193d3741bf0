import type Router from '@koa/router';
import type { Context } from 'koa';
import { PROFILE_FIELDS, profileOf, type ProfileFields, type Profiles } from '../../accounts/profile.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import type { FormGuard } from '../interactions/form-guard.ts';
import type { PageRenderer } from '../pages/page-renderer.ts';
import type { AccountPages } from './account-pages.ts';

/** How each profile field is asked for: its label, its hint, and what the browser may fill in. */
const FIELD_FORMS: Record<
  keyof ProfileFields,
  { label: string; hint?: string; type: string; autocomplete: string; maxlength: number }
> = {
  name: { label: 'Full name', type: 'text', autocomplete: 'name', maxlength: 200 },
  given_name: { label: 'Given name', type: 'text', autocomplete: 'given-name', maxlength: 100 },
  family_name: { label: 'Family name', type: 'text', autocomplete: 'family-name', maxlength: 100 },
  preferred_username: {
    label: 'Username',
    hint: 'letters, digits, . _ -',
    type: 'text',
    autocomplete: 'username',
    maxlength: 64,
  },
  picture: { label: 'Picture', hint: 'an https:// address', type: 'url', autocomplete: 'photo', maxlength: 2048 },
  locale: { label: 'Language', hint: 'such as en-GB', type: 'text', autocomplete: 'language', maxlength: 35 },
  zoneinfo: { label: 'Time zone', hint: 'such as Europe/Paris', type: 'text', autocomplete: 'off', maxlength: 64 },
};

/** The profile as the overview lists it: the fields that are set, with their labels. */
export function profileRows(profile: ProfileFields): Array<{ label: string; value: string }> {
  return PROFILE_FIELDS.filter((field) => profile[field] !== null).map((field) => ({
    label: FIELD_FORMS[field].label,
    value: profile[field]!,
  }));
}

interface ProfileRouteParts {
  router: Router<RequestState>;
  account: AccountPages;
  pages: PageRenderer;
  forms: FormGuard;
  profiles: Profiles;
}

/** /account/profile: the person's own OpenID profile claims, each field checked and its refusal named beside it. */
export function profileRoutes({ router, account, pages, forms, profiles }: ProfileRouteParts): void {
  const profilePage = (
    ctx: Context,
    values: ProfileFields,
    problems: Partial<Record<keyof ProfileFields, string>> = {},
  ) => {
    const fields = PROFILE_FIELDS.map((name) => ({
      name,
      ...FIELD_FORMS[name],
      value: values[name] ?? '',
      problem: problems[name],
    }));
    const error = Object.keys(problems).length ? 'Some fields need another look.' : undefined;
    pages.render(
      ctx,
      'account-profile',
      { title: 'Your profile', csrf: forms.browserToken(ctx), fields, error },
      error ? 400 : 200,
    );
  };

  router.get('/account/profile', async (ctx) => {
    const who = await account.signedIn(ctx);
    if (!who) return account.signIn(ctx);
    profilePage(ctx, profileOf(who.user));
  });

  router.post('/account/profile', async (ctx) => {
    const signedIn = await account.formFrom(ctx);
    if (!signedIn) return;
    const { who, form } = signedIn;
    const input = Object.fromEntries(
      PROFILE_FIELDS.flatMap((field) => (form.has(field) ? [[field, form.get(field) ?? '']] : [])),
    );
    const result = await profiles.update(who.user.id, input, { actor: who.user.id, ip: ctx.ip });
    if (result.outcome === 'refused') {
      const typed = Object.fromEntries(
        PROFILE_FIELDS.map((field) => [field, form.get(field) ?? profileOf(who.user)[field]]),
      );
      return profilePage(ctx, typed as ProfileFields, result.problems);
    }
    seeOther(ctx, '/account?notice=profile');
  });
}
