import type { KoaContextWithOIDC } from 'oidc-provider';
import { OIDC_SCOPES } from '../../shared/protocol.ts';
import { requestableClaims } from './api-token-userinfo.ts';

const isFirstParty = (ctx: KoaContextWithOIDC) =>
  (ctx.oidc.client as unknown as { first_party?: boolean } | undefined)?.first_party === true;

/** The scopes of the request the provider is handling. */
export function requestedScopes(ctx: KoaContextWithOIDC): string[] {
  const scope = ctx.oidc.params?.scope;
  return typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
}

/**
 * The grant oidc-provider starts from. First-party clients get what they asked for (oidc-provider
 * has already cut it to the client's scopes) without a consent prompt; others keep their grant.
 */
export async function firstPartyGrant(ctx: KoaContextWithOIDC) {
  const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(ctx.oidc.client!.clientId);
  const existing = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
  if (!isFirstParty(ctx) || !ctx.oidc.session?.accountId) return existing;
  // First-party: grant what was asked (oidc-provider has already cut it to the client's scopes).
  const grant =
    existing ??
    new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session.accountId });
  const requested = requestedScopes(ctx);
  const oidcScopes = requested.filter((scope) => (OIDC_SCOPES as readonly string[]).includes(scope));
  if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
  // Claims asked for one by one (`claims` parameter): those the client's registered scopes release.
  const claims = requestableClaims(ctx.oidc.client!.scope, ctx.oidc.requestParamClaims);
  if (claims.allowed.length) grant.addOIDCClaims(claims.allowed);
  if (claims.refused.length) grant.rejectOIDCClaims(claims.refused);
  for (const [resource, server] of Object.entries(ctx.oidc.resourceServers ?? {})) {
    const serverScopes = new Set(server.scopes);
    const granted = requested.filter((scope) => serverScopes.has(scope));
    if (granted.length) grant.addResourceScope(resource, granted.join(' '));
  }
  await grant.save();
  return grant;
}
