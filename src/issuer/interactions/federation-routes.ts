import Router from '@koa/router';
import type { Context } from 'koa';
import type {
  FederatedPerson,
  FederatedSignIn,
  FederationRefusal,
} from '../../accounts/federation/federated-sign-in.ts';
import type { PasswordSignIn } from '../../accounts/sign-in/password-sign-in.ts';
import type { CompletedSignIn } from '../../accounts/sign-in/sign-in.ts';
import type { UserRepository } from '../../accounts/user-repository.ts';
import type { Cache } from '../../shared/cache/cache.ts';
import { AppError } from '../../shared/http/errors.ts';
import type { RequestState } from '../../shared/http/request-context.ts';
import { seeOther } from '../../shared/http/see-other.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import type { RoundTrip, UpstreamClient } from '../federation/upstream-client.ts';
import type { Upstream, UpstreamProviders } from '../federation/upstream-providers.ts';
import { signInExpired } from '../http/page-errors.ts';
import { PASSKEY_SIGN_IN, type InteractionDetails, type InteractionPages } from './interaction-pages.ts';

/** Where every upstream sends people back: the one redirect URI an operator registers there. */
export const FEDERATION_CALLBACK_PATH = '/federation/callback';
const TRIP_SECONDS = 600;

/** A round trip in flight, kept server-side by its `state`: for a sign-in (an interaction) or for linking from /account. */
export type TripPurpose = { purpose: 'sign-in'; uid: string } | { purpose: 'link'; userId: string; handle: string };
export type PendingTrip = { providerId: string; trip: RoundTrip } & TripPurpose;

/** What came back, for the page that finishes it (under the interaction's or the account's own cookies). */
export type TripResult = { providerId: string } & ({ person: FederatedPerson } | { failure: 'cancelled' | 'failed' });

const REFUSALS: Record<FederationRefusal | 'cancelled' | 'failed', { title: string; text: (name: string) => string }> =
  {
    domain_not_allowed: {
      title: 'This address cannot sign in here',
      text: (name) =>
        `Your ${name} account’s email address is not in a domain allowed to sign in here. Use another account, or ask your administrator.`,
    },
    account_disabled: {
      title: 'This account is disabled',
      text: () => 'The account linked to this sign-in is disabled. Ask your administrator.',
    },
    sign_up_closed: {
      title: 'No account here yet',
      text: (name) =>
        `There is no account linked to your ${name} account, and new accounts cannot be made through ${name}. Sign in another way, or ask your administrator.`,
    },
    no_email: {
      title: 'No email address',
      text: (name) =>
        `${name} did not tell us your email address, which is needed to sign in here. Allow access to it at ${name}, or sign in another way.`,
    },
    cancelled: {
      title: 'Sign-in cancelled',
      text: (name) => `The sign-in with ${name} was cancelled or refused there. Try again, or sign in another way.`,
    },
    failed: {
      title: 'Sign-in did not finish',
      text: (name) => `We could not complete the sign-in with ${name}. Try again in a moment, or sign in another way.`,
    },
  };

export interface FederationRouteOptions {
  steps: InteractionPages;
  providers: UpstreamProviders;
  upstream: UpstreamClient;
  federated: FederatedSignIn;
  password: PasswordSignIn;
  users: UserRepository;
  cache: Cache;
  issuerUrl: string;
  log: Logger;
}

const tripKey = (state: string) => `federation-trip:${state}`;
const resultKey = (id: string) => `federation-result:${id}`;
const linkKey = (uid: string) => `federation-link:${uid}`;

/** An upstream identity whose address an account here already has, waiting for that account's owner to prove it. */
interface PendingLink {
  providerId: string;
  person: FederatedPerson;
  email: string;
}

/**
 * The emailed link proves the address, not the upstream account: it counts only for a provider
 * trusted for verified addresses that said this one is verified. Otherwise whoever registered the
 * victim's address upstream could have the victim's own click link the attacker's identity.
 */
const emailProves = (provider: Upstream, person: FederatedPerson) =>
  provider.trustEmailVerified && person.emailVerified;

/** The first factors that prove a local account's owner before a link: its password, its passkey, or (see emailProves) its address. */
const PROOFS = new Set(['pwd', 'hwk', 'email']);

/**
 * Links a pending upstream identity when the sign-in of its interaction finishes as the account
 * that has its address, by a way that proves the owner (a passkey or an emailed link, offered on
 * the link page; the password links at once on its own form). A sign-in as any other account, or
 * by an emailed link for a provider not trusted with addresses, links nothing.
 */
export function linkOnSignIn({
  cache,
  providers,
  users,
  federated,
}: Pick<FederationRouteOptions, 'cache' | 'providers' | 'users' | 'federated'>) {
  return async (signInId: string, signIn: CompletedSignIn, ip: string): Promise<void> => {
    const stored = await cache.get(linkKey(signInId));
    if (!stored) return;
    const pending = JSON.parse(stored) as PendingLink;
    const [provider, owner] = await Promise.all([
      providers.forSignIn({ id: pending.providerId }),
      users.findByEmail(pending.email),
    ]);
    const proof = signIn.amr[0] ?? '';
    if (!provider || owner?.id !== signIn.accountId || !PROOFS.has(proof)) return;
    if (proof === 'email' && !emailProves(provider, pending.person)) return;
    await cache.delete(linkKey(signInId));
    await federated.linkProven(owner.id, provider, pending.person, ip);
  };
}

/** Reads and forgets a cached JSON value: each trip, result and pending link is used once. */
export async function take<T>(cache: Cache, key: string): Promise<T | undefined> {
  // The cache's own atomic take: two callbacks racing with one state cannot both get it.
  const stored = await cache.take(key);
  return stored === null ? undefined : (JSON.parse(stored) as T);
}

/** Sends the browser to the upstream, remembering the round trip's secrets under its `state`. */
export async function startTrip(
  { upstream, cache }: Pick<FederationRouteOptions, 'upstream' | 'cache'>,
  ctx: Context,
  provider: Upstream,
  pending: TripPurpose,
): Promise<void> {
  const { url, trip } = await upstream.start(provider);
  const record = { ...pending, providerId: provider.id, trip };
  await cache.set(tripKey(trip.state), JSON.stringify(record), TRIP_SECONDS);
  seeOther(ctx, url.href);
}

/** A refusal or failure a person can act on: a page, never the upstream's own words. */
export function federationProblem(
  ctx: Context,
  steps: InteractionPages,
  reason: keyof typeof REFUSALS,
  providerName: string,
) {
  const { title, text } = REFUSALS[reason];
  steps.pages.render(
    ctx,
    'message',
    { title, paragraphs: [text(providerName)], link: { href: '/account', text: 'Go to your Latchkey account' } },
    reason === 'failed' ? 502 : 403,
  );
}

/**
 * Sign-in through other providers: the buttons post here, the browser goes to the upstream and
 * comes back to the one callback, which finishes the round trip (openid-client checks the answer)
 * and hands the result to the interaction's own page under its own cookie, so a callback forced on
 * another browser signs nobody in there. Then the accounts domain decides: signed in, the local
 * second factor, the proof an existing account needs before linking, or a refusal to act on.
 */
export function federationRoutes(options: FederationRouteOptions): Router<RequestState> {
  const { steps, providers, upstream, federated, password, users, cache, issuerUrl, log } = options;
  const router = new Router<RequestState>();

  const linkPage = (
    ctx: Context,
    details: InteractionDetails,
    provider: Upstream,
    pending: PendingLink,
    error?: string,
    status = 200,
  ) =>
    steps.render(
      ctx,
      'federation-link',
      details,
      {
        title: 'Link your account',
        email: pending.email,
        providerName: provider.name,
        emailProof: emailProves(provider, pending.person),
        ...PASSKEY_SIGN_IN,
        ...(error ? { error } : {}),
      },
      status,
    );

  router.post('/interaction/:uid/federate/:slug', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    await steps.readForm(ctx, details);
    const provider = await providers.forSignIn({ slug: ctx.params.slug ?? '' });
    if (!provider?.enabled)
      throw new AppError(
        404,
        'not_found',
        'There is no such way to sign in.',
        {},
        { href: `/interaction/${details.uid}`, text: 'Back to sign-in' },
      );
    try {
      await startTrip(options, ctx, provider, { purpose: 'sign-in', uid: details.uid });
    } catch (error) {
      log.warn(
        { provider: provider.slug, errMessage: (error as Error).message },
        'could not start a sign-in with an upstream provider',
      );
      federationProblem(ctx, steps, 'failed', provider.name);
    }
  });

  router.get(FEDERATION_CALLBACK_PATH, async (ctx) => {
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    const pending = state ? await take<PendingTrip>(cache, tripKey(state)) : undefined;
    if (!pending)
      throw new AppError(
        400,
        'invalid_request',
        'This sign-in has expired or was already finished; start again.',
        {},
        { href: '/account', text: 'Go to your Latchkey account' },
        'Sign-in expired',
      );
    const provider = await providers.forSignIn({ id: pending.providerId });
    let result: TripResult;
    if (!provider || typeof ctx.query.error === 'string')
      result = { providerId: pending.providerId, failure: 'cancelled' };
    else {
      try {
        const person = await upstream.finish(
          provider,
          new URL(`${issuerUrl}${FEDERATION_CALLBACK_PATH}?${ctx.querystring}`),
          pending.trip,
        );
        result = { providerId: provider.id, person };
      } catch (error) {
        // The reason is for the operator (a wrong secret, a clock, an issuer mismatch); the person gets a page.
        log.warn(
          { provider: provider.slug, errMessage: (error as Error).message },
          'an upstream sign-in failed its checks',
        );
        result = { providerId: provider.id, failure: 'failed' };
      }
    }
    const id = pending.purpose === 'sign-in' ? pending.uid : pending.handle;
    const stored = pending.purpose === 'link' ? { ...result, userId: pending.userId } : result;
    await cache.set(resultKey(id), JSON.stringify(stored), TRIP_SECONDS);
    seeOther(
      ctx,
      pending.purpose === 'sign-in'
        ? `/interaction/${encodeURIComponent(pending.uid)}/federation`
        : `/account/providers/finish?handle=${encodeURIComponent(pending.handle)}`,
    );
  });

  router.get('/interaction/:uid/federation', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    const result = await take<TripResult>(cache, resultKey(details.uid));
    if (!result) throw signInExpired(details.uid);
    const provider = await providers.forSignIn({ id: result.providerId });
    if (!provider) throw signInExpired(details.uid);
    if ('failure' in result) return federationProblem(ctx, steps, result.failure, provider.name);
    const outcome = await federated.signIn(details.uid, provider, result.person, ctx.ip);
    switch (outcome.outcome) {
      case 'link-required': {
        const pending: PendingLink = { providerId: provider.id, person: result.person, email: outcome.email };
        await cache.set(linkKey(details.uid), JSON.stringify(pending), TRIP_SECONDS);
        return linkPage(ctx, details, provider, pending);
      }
      case 'federation-refused':
        return federationProblem(ctx, steps, outcome.reason, provider.name);
      default:
        return steps.answer(ctx, details, outcome, async () => federationProblem(ctx, steps, 'failed', provider.name));
    }
  });

  router.post('/interaction/:uid/federation/link', async (ctx) => {
    const details = await steps.waitingAt(ctx);
    const form = await steps.readForm(ctx, details);
    const stored = await cache.get(linkKey(details.uid));
    if (!stored) throw signInExpired(details.uid);
    const pending = JSON.parse(stored) as PendingLink;
    const provider = await providers.forSignIn({ id: pending.providerId });
    if (!provider) throw signInExpired(details.uid);
    // The password goes through the sign-in's own check (lockout, security log); a wrong one links nothing.
    const result = await password.checkPassword(
      details.uid,
      pending.email,
      form.get('password') ?? '',
      steps.requester(ctx),
    );
    if (result.outcome === 'signed-in' || result.outcome === 'second-factor-needed') {
      const user = await users.findByEmail(pending.email);
      if (!user || (await federated.linkProven(user.id, provider, pending.person, ctx.ip)) === 'taken')
        return federationProblem(ctx, steps, 'failed', provider.name);
      await cache.delete(linkKey(details.uid));
    }
    return steps.answer(ctx, details, result, (status, error = 'That password is not this account’s.') =>
      linkPage(ctx, details, provider, pending, error, status),
    );
  });

  return router;
}
