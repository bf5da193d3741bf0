import type { Writable } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { SignJWT, importJWK, type JWK, type JWTPayload } from 'jose';
import * as client from 'openid-client';
import { sealer } from '../../src/shared/crypto/sealing.ts';
import { keyRing } from '../../src/issuer/keys/key-ring.ts';
import { withLowS } from '../../src/shared/crypto/compact-jws.ts';
import { signingKeyRepository } from '../../src/issuer/keys/signing-key-repository.ts';
import { buildTaskApiApp } from '../../src/resource-server/task-api-app.ts';
import { taskApiService } from '../../src/resource-server/task-api-service.ts';
import type { PrismaClient } from '../../src/shared/database/generated/tasks/client.ts';
import { startService, type RunningService } from '../../src/shared/lifecycle/service.ts';
import { TEST_KEY_ENCRYPTION_KEY, temporaryDirectory, testConfig } from './environment.ts';
import { startIssuer, type IssuerHarness } from './issuer-harness.ts';
import { freePort } from './processes.ts';

/** A response as a test reads it: the parsed JSON body (a task, a page, or the error envelope). */
export interface ApiResponse {
  status: number;
  body: { error: { code: string; message: string; requestId: string } } & Record<string, unknown> & {
      items?: Array<Record<string, unknown>>;
      nextCursor?: string | null;
      id?: string;
    };
  headers: Headers;
}

export const APP_REDIRECT = 'http://127.0.0.1:5173/callback';

export interface Stack {
  issuer: IssuerHarness;
  api: RunningService<PrismaClient>;
  apiUrl: string;
  /** A signed-in user's access token (Authorization Code + PKCE through the issuer). */
  userToken(options?: {
    role?: 'user' | 'admin';
    scopes?: string;
    secondFactor?: boolean;
  }): Promise<{ token: string; sub: string; idToken: string; email: string }>;
  serviceToken(scopes?: string): Promise<{ token: string; clientId: string; config: client.Configuration }>;
  /** Signs claims with the issuer's current access-token key: for tokens the issuer would never issue. */
  signAsIssuer(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  call(
    method: string,
    path: string,
    token?: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  stop(): Promise<void>;
}

/** An issuer and a task API, both in this process, on the suite's database and cache. */
export async function startStack(
  options: {
    jwksCooldownMs?: number;
    issuerOverrides?: Record<string, string>;
    apiOverrides?: Record<string, string>;
    /** Captures of each service's log (at info level), for tests that read them. */
    issuerLog?: Writable;
    apiLog?: Writable;
  } = {},
): Promise<Stack> {
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const issuer = await startIssuer(
    { TASK_API_URL: apiUrl, ...options.issuerOverrides },
    options.issuerLog ? { logDestination: options.issuerLog } : {},
  );
  const dir = await temporaryDirectory();
  const api = await startService(
    {
      ...taskApiService,
      buildApp: (dependencies) =>
        buildTaskApiApp(
          dependencies,
          options.jwksCooldownMs !== undefined ? { jwksCooldownMs: options.jwksCooldownMs } : {},
        ),
    },
    testConfig(dir.path, {
      ISSUER_URL: issuer.url,
      TASK_API_URL: apiUrl,
      TASK_API_PORT: String(apiPort),
      LOG_LEVEL: options.apiLog ? 'info' : 'warn',
      ...options.apiOverrides,
    }),
    { port: apiPort, logDestination: options.apiLog },
  );
  const app = await issuer.createClient({
    type: 'spa',
    redirectUris: [APP_REDIRECT],
    firstParty: true,
    scopes: ['openid', 'offline_access', 'email', 'tasks:read', 'tasks:write', 'tasks:admin'],
  });
  const appConfig = await issuer.discover(app.id);

  return {
    issuer,
    api,
    apiUrl,
    async userToken({ role = 'user', scopes = 'openid tasks:read tasks:write', secondFactor = false } = {}) {
      const user = await issuer.createUser({ role, totp: secondFactor });
      const { callbackUrl, verifier, state } = await issuer.authorize(appConfig, user, {
        redirect_uri: APP_REDIRECT,
        scope: scopes,
      });
      const tokens = await client.authorizationCodeGrant(appConfig, callbackUrl, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      return { token: tokens.access_token, sub: user.id, idToken: tokens.id_token!, email: user.email };
    },
    async serviceToken(scopes = 'tasks:work') {
      const service = await issuer.createClient({ type: 'service' });
      const config = await issuer.discover(service.id, service.secret);
      return {
        token: (await client.clientCredentialsGrant(config, { scope: scopes })).access_token,
        clientId: service.id,
        config,
      };
    },
    async signAsIssuer(claims, header = {}) {
      const ring = keyRing(
        signingKeyRepository(issuer.service.database.client),
        sealer(Buffer.from(TEST_KEY_ENCRYPTION_KEY, 'hex')),
        { publishLeadSeconds: 0, tokenRetentionSeconds: 0, cookieRetentionSeconds: 0 },
      );
      const key = (await ring.load()).jwks.keys.find((candidate) => candidate.alg === 'ES256') as JWK;
      // As the issuer does, in the one spelling the API accepts (low-s).
      return withLowS(
        await new SignJWT(claims)
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid, ...header })
          .sign(await importJWK(key, 'ES256')),
      );
    },
    async call(method, path, token, body, headers = {}) {
      const response = await fetch(`${apiUrl}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: (text ? JSON.parse(text) : undefined) as ApiResponse['body'],
        headers: response.headers,
      };
    },
    async stop() {
      await api.stop();
      await dir.remove();
      await issuer.stop();
    },
  };
}

export const readJsonFile = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as unknown;
