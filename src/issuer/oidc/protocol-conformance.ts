import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Where oidc-provider's answers differ from what the specifications and strict client libraries
 * expect, set right after it answers:
 * - discovery names the auth methods of introspection and revocation (RFC 8414 §2); they are the
 *   token endpoint's, since one client authentication serves all three;
 * - revocation answers `{}` as application/json (RFC 7009 leaves the body open; oidc-client-ts
 *   refuses a text/plain answer);
 * - introspection without any client authentication is 401 `invalid_client` with a challenge
 *   (RFC 7662 §2.3, RFC 6749 §5.2), not 400;
 * - a client using a grant it was not given is `unauthorized_client` (RFC 6749 §5.2), not
 *   `invalid_request`.
 */
export function protocolConformance() {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    const route = ctx.oidc?.route;
    const body = ctx.body as Record<string, unknown> | undefined;
    if (route === 'discovery' && ctx.status === 200 && body) {
      body.introspection_endpoint_auth_methods_supported = body.token_endpoint_auth_methods_supported;
      body.revocation_endpoint_auth_methods_supported = body.token_endpoint_auth_methods_supported;
    } else if (route === 'revocation' && ctx.status === 200) {
      ctx.body = {};
    } else if (
      route === 'token' &&
      ctx.status === 400 &&
      body?.error === 'invalid_request' &&
      body.error_description === 'requested grant type is not allowed for this client'
    ) {
      ctx.body = { error: 'unauthorized_client', error_description: 'this client may not use this grant type' };
    } else if (
      route === 'introspection' &&
      ctx.status === 400 &&
      body?.error === 'invalid_request' &&
      /no client authentication/.test(String(body.error_description))
    ) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Basic realm="latchkey"');
      ctx.body = { error: 'invalid_client', error_description: 'client authentication is required' };
    }
  };
}
