import * as oauth from 'oauth4webapi';
import { SessionError } from './device-session.ts';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const PERSONAL_ACCESS_TOKEN = 'urn:latchkey:params:oauth:token-type:personal_access_token';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

export interface KeySessionOptions {
  issuer: string;
  api: string;
  clientId: string;
  /** The person's key (`lk_pat_…`): from TASKCTL_TOKEN or --token-file, never an argument. */
  key: string;
}

const allowHttp = (url: string) => ({ [oauth.allowInsecureRequests]: new URL(url).protocol === 'http:' });

/**
 * A session on a personal access token, for scripts and CI: the key is traded at the token endpoint
 * (RFC 8693) for a short-lived access token for the API, kept in memory only and traded again when
 * it expires. Nothing is written to disk; there is no refresh token.
 */
export function keySession({ issuer, api, clientId, key }: KeySessionOptions) {
  const client: oauth.Client = { client_id: clientId };
  let current: { token: string; expiresAt: number; sub: string | undefined } | undefined;

  async function exchange(): Promise<NonNullable<typeof current>> {
    let as: oauth.AuthorizationServer;
    try {
      const url = new URL(issuer);
      as = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, allowHttp(issuer)));
    } catch {
      throw new SessionError('unreachable', `cannot reach the issuer at ${issuer}`);
    }
    const parameters = new URLSearchParams({
      subject_token: key,
      subject_token_type: PERSONAL_ACCESS_TOKEN,
      requested_token_type: ACCESS_TOKEN,
      resource: api,
    });
    try {
      const response = await oauth.genericTokenEndpointRequest(
        as,
        client,
        oauth.None(),
        TOKEN_EXCHANGE,
        parameters,
        allowHttp(issuer),
      );
      const tokens = await oauth.processGenericTokenEndpointResponse(as, client, response);
      const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1] ?? '', 'base64url').toString()) as {
        sub?: string;
      };
      return {
        token: tokens.access_token,
        expiresAt: Date.now() + (tokens.expires_in ?? 60) * 1000 - 5000,
        sub: claims.sub,
      };
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError)
        throw new SessionError(
          'auth-needed',
          error.error === 'invalid_grant'
            ? 'the key was not accepted: it may be revoked or expired, or its owner may no longer hold its permissions'
            : `the issuer refused the key: ${error.error_description ?? error.error}`,
        );
      throw new SessionError('unreachable', `cannot reach the issuer at ${issuer}`);
    }
  }

  const token = async (fresh = false) => {
    if (fresh || !current || current.expiresAt <= Date.now()) current = await exchange();
    return current;
  };

  return {
    /** Who the key acts for (its owner's subject). */
    async whoami(): Promise<{ sub: string | undefined }> {
      return { sub: (await token()).sub };
    },

    /** A call to the resource server with a traded token; traded again once after a 401. */
    async call(method: string, path: string, body?: unknown): Promise<Response> {
      const send = async (bearer: string) => {
        try {
          return await fetch(new URL(path, `${api}/`), {
            method,
            headers: {
              accept: 'application/json',
              authorization: `Bearer ${bearer}`,
              ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          });
        } catch {
          throw new SessionError('unreachable', `cannot reach ${api}`);
        }
      };
      const response = await send((await token()).token);
      return response.status === 401 ? send((await token(true)).token) : response;
    },
  };
}
