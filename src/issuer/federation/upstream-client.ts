import * as client from 'openid-client';
import type { Upstream } from './upstream-providers.ts';

/** What an upstream said about the person, after its answer was checked. */
export interface UpstreamIdentity {
  subject: string;
  email: string | undefined;
  /** The upstream's own word on the address (believed only for a provider trusted for it). */
  emailVerified: boolean;
  /** Every claim (ID token, then userinfo; for GitHub, its user API) for the mappings. */
  claims: Record<string, unknown>;
  /** The upstream's `amr`, when it sent one. */
  amr: string[];
}

/** One round trip's secrets, kept server-side between the redirect and the callback. */
export interface RoundTrip {
  verifier: string;
  state: string;
  nonce: string;
}

export class UpstreamError extends Error {}

const isLoopback = (url: string) => ['localhost', '127.0.0.1', '[::1]'].includes(new URL(url).hostname);
const FETCH_TIMEOUT_MS = 10_000;

/**
 * The relying-party side of sign-in through another provider, on openid-client: Authorization Code
 * with PKCE, `state` and `nonce`, the ID token validated (signature, issuer, audience, nonce,
 * expiry), RFC 9207's `iss` checked when the upstream advertises it. GitHub, which has no ID token,
 * is OAuth 2.0 plus its user and verified-emails APIs. Upstream tokens are used for this sign-in and
 * never kept. Plain http is allowed only to a loopback upstream (tests, development).
 */
export function upstreamClient(redirectUri: string) {
  const configs = new Map<string, { at: number; config: Promise<client.Configuration> }>();

  async function configure(upstream: Upstream): Promise<client.Configuration> {
    const insecure = isLoopback(upstream.issuer) ? { execute: [client.allowInsecureRequests] } : undefined;
    const auth = client.ClientSecretBasic(upstream.clientSecret);
    if (upstream.kind === 'github') {
      const config = new client.Configuration(
        {
          issuer: upstream.issuer,
          authorization_endpoint: `${upstream.issuer}/login/oauth/authorize`,
          token_endpoint: `${upstream.issuer}/login/oauth/access_token`,
        },
        upstream.clientId,
        undefined,
        auth,
      );
      if (insecure) client.allowInsecureRequests(config);
      return config;
    }
    return client.discovery(new URL(upstream.issuer), upstream.clientId, undefined, auth, {
      ...insecure,
      timeout: FETCH_TIMEOUT_MS / 1000,
    });
  }

  /** Discovery once per provider version (an edit makes a new one), forgotten on failure. */
  function configFor(upstream: Upstream): Promise<client.Configuration> {
    const version = upstream.updatedAt.getTime();
    const cached = configs.get(upstream.id);
    if (cached && cached.at === version) return cached.config;
    const config = configure(upstream);
    configs.set(upstream.id, { at: version, config });
    config.catch(() => configs.delete(upstream.id));
    return config;
  }

  async function githubIdentity(upstream: Upstream, accessToken: string): Promise<UpstreamIdentity> {
    const api = async (path: string) => {
      const response = await fetch(`${upstream.apiBase ?? 'https://api.github.com'}${path}`, {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.github+json' },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      if (!response.ok) throw new UpstreamError(`GitHub's ${path} answered ${response.status}`);
      return response.json();
    };
    const user = (await api('/user')) as { id?: unknown; login?: unknown; name?: unknown; avatar_url?: unknown };
    if (typeof user.id !== 'number' && typeof user.id !== 'string') throw new UpstreamError('GitHub sent no user id');
    const emails = (
      (await api('/user/emails')) as Array<{ email?: unknown; primary?: unknown; verified?: unknown }>
    ).filter((entry) => typeof entry.email === 'string');
    // The primary address if verified, else any verified one; an unverified address is never called verified.
    const chosen =
      emails.find((entry) => entry.primary === true && entry.verified === true) ??
      emails.find((entry) => entry.verified === true) ??
      emails.find((entry) => entry.primary === true);
    return {
      subject: String(user.id),
      email: chosen?.email as string | undefined,
      emailVerified: chosen?.verified === true,
      claims: {
        sub: String(user.id),
        login: user.login,
        name: user.name,
        picture: user.avatar_url,
        email: chosen?.email,
        email_verified: chosen?.verified === true,
      },
      amr: [],
    };
  }

  return {
    /** Where to send the browser, and the secrets the callback must match. */
    async start(upstream: Upstream): Promise<{ url: URL; trip: RoundTrip }> {
      const config = await configFor(upstream);
      const trip = {
        verifier: client.randomPKCECodeVerifier(),
        state: client.randomState(),
        nonce: client.randomNonce(),
      };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: upstream.scopes.join(' '),
        code_challenge: await client.calculatePKCECodeChallenge(trip.verifier),
        code_challenge_method: 'S256',
        state: trip.state,
        ...(upstream.kind === 'oidc' ? { nonce: trip.nonce } : {}),
      });
      return { url, trip };
    },

    /** The callback, checked against the round trip, turned into who the upstream says the person is. */
    async finish(upstream: Upstream, callbackUrl: URL, trip: RoundTrip): Promise<UpstreamIdentity> {
      const config = await configFor(upstream);
      const tokens = await client.authorizationCodeGrant(
        config,
        callbackUrl,
        {
          pkceCodeVerifier: trip.verifier,
          expectedState: trip.state,
          ...(upstream.kind === 'oidc' ? { expectedNonce: trip.nonce, idTokenExpected: true } : {}),
        },
        { redirect_uri: redirectUri },
      );
      if (upstream.kind === 'github') return githubIdentity(upstream, tokens.access_token);
      const idToken = tokens.claims();
      if (!idToken) throw new UpstreamError('the upstream sent no ID token');
      let claims: Record<string, unknown> = { ...idToken };
      if (config.serverMetadata().userinfo_endpoint) {
        // Userinfo may hold what the ID token left out (groups, a picture); the ID token's subject must match.
        const info = await client.fetchUserInfo(config, tokens.access_token, idToken.sub).catch(() => undefined);
        if (info) claims = { ...info, ...idToken };
      }
      return {
        subject: idToken.sub,
        email: typeof claims.email === 'string' ? claims.email : undefined,
        emailVerified: claims.email_verified === true,
        claims,
        amr: Array.isArray(idToken.amr)
          ? idToken.amr.filter((method): method is string => typeof method === 'string')
          : [],
      };
    },
  };
}

export type UpstreamClient = ReturnType<typeof upstreamClient>;
