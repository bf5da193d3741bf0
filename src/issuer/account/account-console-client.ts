import type { ClientMetadata } from 'oidc-provider';

export const ACCOUNT_CONSOLE_CLIENT_ID = 'latchkey-account';

/**
 * The account pages are a first-party client of the issuer itself: they send the browser through the
 * ordinary authorization endpoint to sign in (so the same sign-in pages, lockout and second factor
 * apply) and then read the issuer's own session. They need no token, so they ask for response type
 * `none` (OAuth 2.0 Multiple Response Types): no code is ever issued to them.
 */
export function accountConsoleClient(issuerUrl: string): ClientMetadata {
  return {
    client_id: ACCOUNT_CONSOLE_CLIENT_ID,
    client_name: 'Your Latchkey account',
    token_endpoint_auth_method: 'none',
    grant_types: [],
    response_types: ['none'],
    redirect_uris: [`${issuerUrl}/account/callback`],
    post_logout_redirect_uris: [`${issuerUrl}/account/signed-out`],
    first_party: true,
    allowed_resources: [],
    resource_scopes: [],
  };
}
