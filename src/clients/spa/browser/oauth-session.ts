import * as oauth from 'oauth4webapi';
import { DEMO_USER_SCOPE } from '../../../shared/protocol.ts';

/** What the demo app is told by its server (/config.json): where the issuer and the API are, and its client id. */
export interface AppSettings {
  issuer: string;
  api: string;
  clientId: string;
  redirectUri: string;
}

interface PendingSignIn {
  verifier: string;
  state: string;
  nonce: string;
}

export interface SignedInUser {
  sub: string;
  email: string | undefined;
}

const SCOPE = DEMO_USER_SCOPE;
const PENDING_KEY = 'latchkey-demo.pending-sign-in';
/** http only for the local demo on loopback; oauth4webapi refuses plain http unless told. */
const allowHttp = (url: string) => ({ [oauth.allowInsecureRequests]: new URL(url).protocol === 'http:' });

/** The DPoP key lives in IndexedDB as a non-extractable CryptoKey: usable after a reload, never readable by script. */
async function dpopKeyPair(): Promise<CryptoKeyPair> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open('latchkey-demo', 1);
    request.onupgradeneeded = () => request.result.createObjectStore('keys');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB is not available'));
  });
  const read = <T>(mode: IDBTransactionMode, action: (store: IDBObjectStore) => IDBRequest<T>) =>
    new Promise<T>((resolve, reject) => {
      const request = action(db.transaction('keys', mode).objectStore('keys'));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
    });
  const existing = await read<CryptoKeyPair | undefined>(
    'readonly',
    (store) => store.get('dpop') as IDBRequest<CryptoKeyPair | undefined>,
  );
  if (existing) return existing;
  const created = await oauth.generateKeyPair('ES256', { extractable: false });
  await read('readwrite', (store) => store.put(created, 'dpop'));
  return created;
}

export class SessionExpiredError extends Error {}

/**
 * Authorization Code + PKCE (S256) with state, nonce and the issuer's `iss` checked, tokens kept in
 * this object only (a reload signs in again silently through the issuer's session), access and
 * refresh tokens bound to a non-extractable DPoP key, refreshed through rotation.
 */
export class OAuthSession {
  readonly #settings: AppSettings;
  readonly #as: oauth.AuthorizationServer;
  readonly #client: oauth.Client;
  readonly #dpop: oauth.DPoPHandle;
  #accessToken: string | undefined;
  #refreshToken: string | undefined;
  #idToken: string | undefined;
  #expiresAt = 0;
  #refreshing: Promise<void> | undefined;
  user: SignedInUser | undefined;

  private constructor(settings: AppSettings, as: oauth.AuthorizationServer, dpop: oauth.DPoPHandle) {
    this.#settings = settings;
    this.#as = as;
    this.#client = { client_id: settings.clientId };
    this.#dpop = dpop;
  }

  static async open(settings: AppSettings): Promise<OAuthSession> {
    const issuer = new URL(settings.issuer);
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, allowHttp(settings.issuer)),
    );
    return new OAuthSession(settings, as, oauth.DPoP({}, await dpopKeyPair()));
  }

  get signedIn(): boolean {
    return this.#accessToken !== undefined;
  }

  /** Sends the browser to the issuer; `silent` asks for no page at all (prompt=none) and fails quietly. */
  async signIn(silent = false): Promise<void> {
    const pending: PendingSignIn = {
      verifier: oauth.generateRandomCodeVerifier(),
      state: oauth.generateRandomState(),
      nonce: oauth.generateRandomNonce(),
    };
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
    const url = new URL(this.#as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: this.#settings.clientId,
      redirect_uri: this.#settings.redirectUri,
      response_type: 'code',
      scope: SCOPE,
      resource: this.#settings.api,
      code_challenge: await oauth.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      ...(silent ? { prompt: 'none' } : {}),
    }).toString();
    location.assign(url.href);
  }

  /** Finishes a sign-in when the page is the redirect back from the issuer; false when it is not. */
  async completeSignIn(current: URL): Promise<boolean> {
    const stored = sessionStorage.getItem(PENDING_KEY);
    if (!stored || (!current.searchParams.has('code') && !current.searchParams.has('error'))) return false;
    sessionStorage.removeItem(PENDING_KEY);
    history.replaceState(null, '', this.#settings.redirectUri);
    const pending = JSON.parse(stored) as PendingSignIn;
    // Checks state and that `iss` names our issuer (RFC 9207) before anything else; an error response throws here.
    const params = oauth.validateAuthResponse(this.#as, this.#client, current, pending.state);
    const result = await this.#tokenRequest(
      () =>
        oauth.authorizationCodeGrantRequest(
          this.#as,
          this.#client,
          oauth.None(),
          params,
          this.#settings.redirectUri,
          pending.verifier,
          { DPoP: this.#dpop, ...allowHttp(this.#settings.issuer) },
        ),
      (response) =>
        oauth.processAuthorizationCodeResponse(this.#as, this.#client, response, {
          expectedNonce: pending.nonce,
          requireIdToken: true,
        }),
    );
    const claims = oauth.getValidatedIdTokenClaims(result)!;
    this.user = { sub: claims.sub, email: typeof claims.email === 'string' ? claims.email : undefined };
    return true;
  }

  /** A token request, retried once when the server asks for a DPoP nonce. */
  async #tokenRequest(
    send: () => Promise<Response>,
    process: (response: Response) => Promise<oauth.TokenEndpointResponse>,
  ): Promise<oauth.TokenEndpointResponse> {
    let result: oauth.TokenEndpointResponse;
    try {
      result = await process(await send());
    } catch (error) {
      if (!oauth.isDPoPNonceError(error)) throw error;
      result = await process(await send());
    }
    this.#accessToken = result.access_token;
    this.#refreshToken = result.refresh_token ?? this.#refreshToken;
    this.#idToken = result.id_token ?? this.#idToken;
    this.#expiresAt = Date.now() + (result.expires_in ?? 60) * 1000;
    return result;
  }

  /** One refresh at a time: parallel API calls share it instead of spending the rotated token twice. */
  async refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      if (!this.#refreshToken) throw new SessionExpiredError('no refresh token');
      const refreshToken = this.#refreshToken;
      try {
        await this.#tokenRequest(
          () =>
            oauth.refreshTokenGrantRequest(this.#as, this.#client, oauth.None(), refreshToken, {
              DPoP: this.#dpop,
              ...allowHttp(this.#settings.issuer),
            }),
          (response) => oauth.processRefreshTokenResponse(this.#as, this.#client, response),
        );
      } catch (error) {
        this.#accessToken = undefined;
        this.#refreshToken = undefined;
        throw error instanceof oauth.ResponseBodyError ? new SessionExpiredError(error.error) : error;
      }
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** Calls the task API with the DPoP-bound access token, refreshing it first when it is about to expire or was refused. */
  async api(method: string, path: string, body?: unknown): Promise<Response> {
    if (!this.#accessToken) throw new SessionExpiredError('not signed in');
    if (Date.now() > this.#expiresAt - 10_000) await this.refresh();
    const send = () => {
      const headers = new Headers({ accept: 'application/json' });
      if (body !== undefined) headers.set('content-type', 'application/json');
      return oauth.protectedResourceRequest(
        this.#accessToken!,
        method,
        new URL(path, this.#settings.api),
        headers,
        body === undefined ? null : JSON.stringify(body),
        { DPoP: this.#dpop, ...allowHttp(this.#settings.api) },
      );
    };
    let response: Response;
    try {
      response = await send();
    } catch (error) {
      if (!oauth.isDPoPNonceError(error)) throw error;
      response = await send();
    }
    if (response.status === 401) {
      await this.refresh();
      response = await send();
    }
    return response;
  }

  /** RP-initiated logout: the refresh token is revoked first, then the issuer's session ends. */
  async signOut(): Promise<void> {
    if (this.#refreshToken) {
      await oauth
        .revocationRequest(this.#as, this.#client, oauth.None(), this.#refreshToken, allowHttp(this.#settings.issuer))
        .catch(() => undefined);
    }
    const url = new URL(this.#as.end_session_endpoint!);
    url.search = new URLSearchParams({
      client_id: this.#settings.clientId,
      post_logout_redirect_uri: this.#settings.redirectUri,
      ...(this.#idToken ? { id_token_hint: this.#idToken } : {}),
    }).toString();
    this.#accessToken = undefined;
    this.#refreshToken = undefined;
    location.assign(url.href);
  }
}
