import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { signInExpired } from '../http/page-errors.ts';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/** The scopes a consent prompt asks for, OpenID scopes first, then each API's. */
export function requestedScopes(details: Details): string[] {
  const missingResourceScopes =
    (details.prompt.details.missingResourceScopes as Record<string, string[]> | undefined) ?? {};
  const missingOIDCScope = (details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
  return [...missingOIDCScope, ...Object.values(missingResourceScopes).flat()];
}

/**
 * The person's answer to a consent prompt, as oidc-provider's interaction result: a denial, or the
 * grant extended by exactly what the prompt said was missing (scopes, claims, each API's scopes).
 */
export async function consentResult(
  provider: Provider,
  details: Details,
  allowed: boolean,
): Promise<InteractionResults> {
  if (!allowed) return { error: 'access_denied', error_description: 'the user denied the request' };
  const { session, params, prompt, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
  if (!grant) throw signInExpired(details.uid);
  const missingOIDCScope = prompt.details.missingOIDCScope as string[] | undefined;
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  const missingOIDCClaims = prompt.details.missingOIDCClaims as string[] | undefined;
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  const missingResourceScopes = prompt.details.missingResourceScopes as Record<string, string[]> | undefined;
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {}))
    grant.addResourceScope(indicator, scopes.join(' '));
  return { consent: { grantId: await grant.save() } };
}
