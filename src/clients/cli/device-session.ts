import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oauth from 'oauth4webapi';
import QRCode from 'qrcode';
import type { CredentialStore, StoredCredentials } from './credential-store.ts';

/** Why a session call failed, for the command line's exit code and its one line of advice. */
export type SessionProblem = 'auth-needed' | 'forbidden' | 'not-found' | 'invalid' | 'unreachable';

export class SessionError extends Error {
  readonly problem: SessionProblem;
  constructor(problem: SessionProblem, message: string) {
    super(message);
    this.problem = problem;
  }
}

export interface DeviceSessionOptions {
  /** The issuer, without a trailing slash. */
  issuer: string;
  /** The resource server the tokens are for (RFC 8707), without a trailing slash. */
  api: string;
  clientId: string;
  scope: string;
  store: CredentialStore;
  /** The command people run again to sign in (`taskctl login`), for messages. */
  loginCommand: string;
  json: boolean;
  openBrowser: boolean;
  print: (line: string) => void;
}

const allowHttp = (url: string) => ({ [oauth.allowInsecureRequests]: new URL(url).protocol === 'http:' });

/** A token request, retried once if the issuer asks for a DPoP nonce. */
async function tokenRequest(
  send: () => Promise<Response>,
  process: (response: Response) => Promise<oauth.TokenEndpointResponse>,
): Promise<oauth.TokenEndpointResponse> {
  try {
    return await process(await send());
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    return process(await send());
  }
}

function openInBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // No browser here (a server, a container): the printed URL and QR code are enough.
  }
}

/** Waits `ms`, turning a spinner on a terminal; returns the spinner's next frame. */
async function waitShowingProgress(ms: number, spinner: string[] | undefined, frame: number): Promise<number> {
  for (let waited = 0; waited < ms; waited += 100) {
    if (spinner)
      process.stderr.write(`\r${spinner[(frame += 1) % spinner.length]} waiting for you to confirm in the browser...`);
    await sleep(100);
  }
  return frame;
}

/**
 * A person's session on a public native client with oauth4webapi: the device grant (RFC 8628) to
 * sign in, DPoP-bound tokens (RFC 9449) kept by the credential store, refreshed when about to
 * expire, and calls to the resource server. Shared by `taskctl` and `latchkey`.
 */
export function deviceSession(options: DeviceSessionOptions) {
  const { issuer, api, store, print } = options;
  const client: oauth.Client = { client_id: options.clientId };
  const expired = () => new SessionError('auth-needed', `Your sign-in has ended. Run \`${options.loginCommand}\`.`);

  async function discover(): Promise<oauth.AuthorizationServer> {
    const url = new URL(issuer);
    try {
      return await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, allowHttp(issuer)));
    } catch {
      throw new SessionError('unreachable', `cannot reach the issuer at ${issuer}`);
    }
  }

  /** Tells the person where to confirm: the URL and code, a QR code, or JSON for scripts. Returns the direct link. */
  async function showDeviceCode(authorization: oauth.DeviceAuthorizationResponse): Promise<string> {
    const direct = authorization.verification_uri_complete ?? authorization.verification_uri;
    if (options.json) {
      const { verification_uri, verification_uri_complete, user_code, expires_in } = authorization;
      print(JSON.stringify({ verification_uri, verification_uri_complete, user_code, expires_in }));
    } else {
      print(`To sign in, open ${authorization.verification_uri} and enter the code ${authorization.user_code}`);
      print(`(or open ${direct}, or scan:)`);
      print(await QRCode.toString(direct, { type: 'terminal', small: true }));
    }
    return direct;
  }

  /** Polls the token endpoint until the person confirms, honouring `interval` and `slow_down` (RFC 8628 §3.5). */
  async function waitForConfirmation(
    as: oauth.AuthorizationServer,
    authorization: oauth.DeviceAuthorizationResponse,
  ): Promise<oauth.TokenEndpointResponse> {
    const dpop = oauth.DPoP(client, await store.keyPair());
    let interval = (authorization.interval ?? 5) * 1000;
    const deadline = Date.now() + authorization.expires_in * 1000;
    const spinner =
      process.stderr.isTTY && !options.json ? ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] : undefined;
    let frame = 0;
    const codeExpired = new SessionError(
      'auth-needed',
      `The code expired before it was confirmed. Run \`${options.loginCommand}\` again.`,
    );
    while (Date.now() < deadline) {
      frame = await waitShowingProgress(interval, spinner, frame);
      try {
        const result = await tokenRequest(
          () =>
            oauth.deviceCodeGrantRequest(as, client, oauth.None(), authorization.device_code, {
              DPoP: dpop,
              ...allowHttp(issuer),
            }),
          (answer) => oauth.processDeviceCodeResponse(as, client, answer),
        );
        if (spinner) process.stderr.write('\r\x1b[K');
        return result;
      } catch (error) {
        const code = error instanceof oauth.ResponseBodyError ? error.error : undefined;
        if (code === 'authorization_pending') continue;
        if (code === 'slow_down') {
          interval += 5_000;
          continue;
        }
        if (spinner) process.stderr.write('\r\x1b[K');
        if (code === 'access_denied') throw new SessionError('auth-needed', 'Sign-in was denied in the browser.');
        if (code === 'expired_token') throw codeExpired;
        throw error;
      }
    }
    throw codeExpired;
  }

  /** The stored credentials, refreshed (with the DPoP key) when the access token is about to expire. */
  async function credentials(forceRefresh = false): Promise<StoredCredentials> {
    const stored = await store.load();
    if (!stored || stored.issuer !== issuer)
      throw new SessionError('auth-needed', `Not signed in. Run \`${options.loginCommand}\`.`);
    if (!forceRefresh && Date.now() < stored.expiresAt - 15_000) return stored;
    if (!stored.refreshToken) throw expired();
    const as = await discover();
    const dpop = oauth.DPoP(client, await store.keyPair());
    try {
      const result = await tokenRequest(
        () =>
          oauth.refreshTokenGrantRequest(as, client, oauth.None(), stored.refreshToken!, {
            DPoP: dpop,
            ...allowHttp(issuer),
          }),
        (answer) => oauth.processRefreshTokenResponse(as, client, answer),
      );
      const refreshed = {
        ...stored,
        accessToken: result.access_token,
        refreshToken: result.refresh_token ?? stored.refreshToken,
        expiresAt: Date.now() + (result.expires_in ?? 60) * 1000,
      };
      await store.save(refreshed);
      return refreshed;
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError) throw expired();
      throw error;
    }
  }

  return {
    /** Signs in with the device grant and keeps the tokens; answers who signed in. */
    async login(): Promise<{ sub: string | undefined; email: string | undefined }> {
      const as = await discover();
      const response = await oauth.deviceAuthorizationRequest(
        as,
        client,
        oauth.None(),
        { scope: options.scope, resource: api },
        allowHttp(issuer),
      );
      const authorization = await oauth
        .processDeviceAuthorizationResponse(as, client, response)
        .catch((error: unknown) => {
          if (error instanceof oauth.ResponseBodyError)
            throw new SessionError(
              'invalid',
              `the issuer refused to start a sign-in: ${error.error_description ?? error.error}`,
            );
          throw error;
        });
      const direct = await showDeviceCode(authorization);
      if (options.openBrowser) openInBrowser(direct);
      const result = await waitForConfirmation(as, authorization);
      const claims = oauth.getValidatedIdTokenClaims(result);
      const email = typeof claims?.email === 'string' ? claims.email : undefined;
      await store.save({
        issuer,
        api,
        clientId: options.clientId,
        accessToken: result.access_token,
        refreshToken: result.refresh_token,
        expiresAt: Date.now() + (result.expires_in ?? 60) * 1000,
        sub: claims?.sub,
        email,
      });
      return { sub: claims?.sub, email };
    },

    credentials,

    /** A call to the resource server with the (refreshed) DPoP-bound token; once more after a 401. */
    async call(method: string, path: string, body?: unknown): Promise<Response> {
      const dpop = oauth.DPoP(client, await store.keyPair());
      const send = async (current: StoredCredentials) => {
        const headers = new Headers({ accept: 'application/json' });
        if (body !== undefined) headers.set('content-type', 'application/json');
        const request = () =>
          oauth.protectedResourceRequest(
            current.accessToken,
            method,
            new URL(path, `${api}/`),
            headers,
            body === undefined ? null : JSON.stringify(body),
            { DPoP: dpop, ...allowHttp(api) },
          );
        try {
          return await request();
        } catch (error) {
          if (oauth.isDPoPNonceError(error)) return request();
          // A 401 or 403 with a challenge (invalid_token, insufficient_scope, step-up) is an answer, not an outage.
          if (error instanceof oauth.WWWAuthenticateChallengeError) return error.response;
          throw new SessionError('unreachable', `cannot reach ${api}`);
        }
      };
      const response = await send(await credentials());
      return response.status === 401 ? send(await credentials(true)) : response;
    },

    /** Revokes the refresh token at the issuer, then forgets everything here. */
    async logout(): Promise<void> {
      const stored = await store.load();
      if (stored?.refreshToken) {
        const as = await discover();
        const response = await oauth.revocationRequest(
          as,
          client,
          oauth.None(),
          stored.refreshToken,
          allowHttp(issuer),
        );
        await oauth.processRevocationResponse(response).catch(() => undefined);
      }
      await store.clear();
    },
  };
}

export type DeviceSession = ReturnType<typeof deviceSession>;
