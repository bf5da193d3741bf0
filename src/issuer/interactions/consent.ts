import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { signInExpired } from '../http/page-errors.ts';
import { requestableClaims } from '../oidc/api-token-userinfo.ts';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/** The scopes a consent prompt asks for, OpenID scopes first, then each API's. */
export function requestedScopes(details: Details): string[] {
  const missingResourceScopes =
    (details.prompt.details.missingResourceScopes as Record<string, string[]> | undefined) ?? {};
  const missingOIDCScope = (details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
  return [...missingOIDCScope, ...Object.values(missingResourceScopes).flat()];
}

/** The claims a consent prompt asks for one by one (`claims` parameter), split by what the client may have. */
export function requestedClaims(details: Details, clientScope: string | undefined) {
  return requestableClaims(clientScope, (details.prompt.details.missingOIDCClaims as string[] | undefined) ?? []);
}

/**
 * The person's answer to a consent prompt, as oidc-provider's interaction result: a denial, or the
 * grant extended by exactly what the prompt said was missing (scopes, each API's scopes, and the
 * claims the client may have).
 */
export async function consentResult(
  provider: Provider,
  details: Details,
  allowed: boolean,
  clientScope: string | undefined,
): Promise<InteractionResults> {
  if (!allowed) return { error: 'access_denied', error_description: 'the user denied the request' };
  const { session, params, prompt, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
  if (!grant) throw signInExpired(details.uid);
  const missingOIDCScope = prompt.details.missingOIDCScope as string[] | undefined;
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  // Claims asked for one by one: those the page showed are granted; the client never gets the others.
  const claims = requestedClaims(details, clientScope);
  if (claims.allowed.length) grant.addOIDCClaims(claims.allowed);
  if (claims.refused.length) grant.rejectOIDCClaims(claims.refused);
  const missingResourceScopes = prompt.details.missingResourceScopes as Record<string, string[]> | undefined;
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {}))
    grant.addResourceScope(indicator, scopes.join(' '));
  return { consent: { grantId: await grant.save() } };
}
