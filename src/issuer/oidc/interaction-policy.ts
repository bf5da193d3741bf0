import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

const { Check, base } = interactionPolicy;

const isFirstParty = (ctx: KoaContextWithOIDC) =>
  (ctx.oidc.client as unknown as { first_party?: boolean } | undefined)?.first_party === true;

/**
 * The sign-in steps: login, then consent. oidc-provider always asks native clients for consent (an
 * app on a device can pretend to be another); our own first-party clients are spared that, except
 * on a device sign-in (RFC 8628), which always ends with the person, signed in and shown as who they
 * are, allowing or denying the device: a code someone else sent them must never sign a device in
 * to their account behind a single "Continue" (RFC 8628 section 5.4, remote phishing).
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
  consent.checks.unshift(
    new Check('device_confirmation', 'a device sign-in is allowed by the person', 'consent_required', (ctx) =>
      ctx.oidc.entities.DeviceCode && !ctx.oidc.result?.consent ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  return policy;
}
