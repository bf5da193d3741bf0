import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

const { Check, base } = interactionPolicy;

const isFirstParty = (ctx: KoaContextWithOIDC) =>
  (ctx.oidc.client as unknown as { first_party?: boolean } | undefined)?.first_party === true;

/**
 * The sign-in steps: login, then consent. oidc-provider always asks native clients for consent
 * (an app on a device can pretend to be another); our own first-party CLI already had the person
 * confirm "a device is asking to sign in" on the device page, so it is spared the second question.
 * Third-party native clients are still asked.
 */
export function latchkeyInteractionPolicy() {
  const policy = base();
  const consent = policy.get('consent')!;
  const nativeCheck = consent.checks.get('native_client_prompt')!;
  consent.checks.remove('native_client_prompt');
  consent.checks.unshift(
    new Check('native_client_prompt', 'native clients require End-User interaction', 'interaction_required', (ctx) =>
      isFirstParty(ctx) ? Check.NO_NEED_TO_PROMPT : nativeCheck.check(ctx),
    ),
  );
  return policy;
}
