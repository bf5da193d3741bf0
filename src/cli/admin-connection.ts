import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import * as oauth from 'oauth4webapi';
import { configDirectory, credentialStore } from '../clients/cli/credential-store.ts';
import { deviceSession, SessionError, type DeviceSession } from '../clients/cli/device-session.ts';
import { ADMIN_CLI_CLIENT_ID, ADMIN_SCOPES } from '../issuer/admin/admin-api.ts';
import { LOCAL_OPERATOR_FILE } from '../issuer/admin/local-operator.ts';

/** Exit codes scripts rely on. */
export const EXIT = { ok: 0, invalid: 1, notFound: 2, unreachable: 3, notAllowed: 4 } as const;

export class CliError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

export interface AdminConnection {
  /** How this command reaches the admin API, in words (for `latchkey whoami` and errors). */
  describe: string;
  /** A JSON call to /admin/v1; an error answer is thrown as a CliError with its exit code. */
  call<T = Record<string, unknown>>(method: string, route: string, body?: unknown): Promise<T>;
}

export interface ConnectionSettings {
  issuer: string;
  /** Where a local issuer listens (ISSUER_PORT) and keeps its data (DATA_DIR), for the local operator. */
  local: { port: number; dataDir: string } | undefined;
  env: NodeJS.ProcessEnv;
  json: boolean;
  openBrowser: boolean;
  print: (line: string) => void;
}

type Answer = { status: number; body: unknown };
const ADMIN_SCOPE = `${ADMIN_SCOPES.read} ${ADMIN_SCOPES.write}`;
const allowHttp = (url: string) => ({ [oauth.allowInsecureRequests]: new URL(url).protocol === 'http:' });

/** The person's saved sign-in (`latchkey login`), kept in LATCHKEY_CONFIG_DIR or ~/.config/latchkey. */
export function adminSession(settings: ConnectionSettings): DeviceSession {
  return deviceSession({
    issuer: settings.issuer,
    api: `${settings.issuer}/admin`,
    clientId: ADMIN_CLI_CLIENT_ID,
    scope: `openid email offline_access ${ADMIN_SCOPE}`,
    store: credentialStore(configDirectory(settings.env, 'latchkey', 'LATCHKEY_CONFIG_DIR')),
    loginCommand: 'latchkey login',
    json: settings.json,
    openBrowser: settings.openBrowser,
    print: settings.print,
  });
}

/** One line saying what went wrong and what to do, with the exit code for it. */
function refusal(answer: Answer, how: string): CliError {
  const error = (answer.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const message = error?.message ?? `the admin API answered ${answer.status}`;
  if (answer.status === 401 && error?.code === 'insufficient_user_authentication')
    return new CliError(
      EXIT.notAllowed,
      'This change needs a second factor used in the last 15 minutes: run `latchkey login` again.',
    );
  if (answer.status === 401) return new CliError(EXIT.notAllowed, `${message} (${how}). Run \`latchkey login\`.`);
  if (answer.status === 403)
    return new CliError(
      EXIT.notAllowed,
      `Not allowed: ${message} (${how}; the admin role holds admin:read and admin:write).`,
    );
  if (answer.status === 404) return new CliError(EXIT.notFound, message);
  if (answer.status >= 500) return new CliError(EXIT.unreachable, `the issuer could not do it now: ${message}`);
  return new CliError(EXIT.invalid, message);
}

async function parse(response: { status: number; text: string }): Promise<Answer> {
  let body: unknown;
  try {
    body = response.text ? JSON.parse(response.text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
}

/**
 * On this machine beside a running issuer: the credential it wrote into its data folder, sent over
 * a direct loopback connection to its port (with the issuer's host name, which it answers for).
 */
function localOperatorConnection(settings: ConnectionSettings, credential: string): AdminConnection {
  const { port } = settings.local!;
  const host = new URL(settings.issuer).host;
  const how = 'as the local operator';
  return {
    describe: `the local operator of ${settings.issuer} (the credential in its data folder)`,
    async call<T>(method: string, route: string, body?: unknown): Promise<T> {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = http.request(
          {
            host: '127.0.0.1',
            port,
            method,
            path: `/admin/v1${route}`,
            headers: {
              host,
              accept: 'application/json',
              authorization: `LocalOperator ${credential}`,
              ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
            },
            timeout: 30_000,
          },
          (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (text += chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
          },
        );
        request.on('timeout', () => request.destroy(new Error('timed out')));
        request.on('error', reject);
        request.end(payload);
      }).catch(() => {
        throw new CliError(
          EXIT.unreachable,
          `cannot reach the issuer on 127.0.0.1:${port}: is it running (npm start)?`,
        );
      });
      const parsed = await parse(answer);
      if (parsed.status >= 400) throw refusal(parsed, how);
      return parsed.body as T;
    },
  };
}

/** A call with a bearer token over fetch (the client-credentials connection). */
async function bearerCall(
  issuer: string,
  token: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<Answer> {
  const response = await fetch(`${issuer}/admin/v1${route}`, {
    method,
    headers: {
      accept: 'application/json',
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  }).catch(() => {
    throw new CliError(EXIT.unreachable, `cannot reach the issuer at ${issuer}`);
  });
  return parse({ status: response.status, text: await response.text() });
}

/** For automation: a service client holding the admin role (LATCHKEY_CLIENT_ID and LATCHKEY_CLIENT_SECRET[_FILE]). */
async function serviceConnection(
  settings: ConnectionSettings,
  clientId: string,
  secret: string,
): Promise<AdminConnection> {
  const { issuer } = settings;
  const client: oauth.Client = { client_id: clientId };
  let token: string | undefined;
  const how = `as the service client ${clientId}`;
  const fetchToken = async () => {
    try {
      const as = await oauth.processDiscoveryResponse(
        new URL(issuer),
        await oauth.discoveryRequest(new URL(issuer), allowHttp(issuer)),
      );
      const parameters = { scope: ADMIN_SCOPE, resource: `${issuer}/admin` };
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic(secret),
        parameters,
        allowHttp(issuer),
      );
      return (await oauth.processClientCredentialsResponse(as, client, response)).access_token;
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError)
        throw new CliError(
          EXIT.notAllowed,
          `the issuer refused the client credentials: ${error.error_description ?? error.error}`,
        );
      throw new CliError(EXIT.unreachable, `cannot reach the issuer at ${issuer}`);
    }
  };
  return {
    describe: `the service client ${clientId} at ${issuer}`,
    async call<T>(method: string, route: string, body?: unknown): Promise<T> {
      token ??= await fetchToken();
      const answer = await bearerCall(issuer, token, method, route, body);
      if (answer.status >= 400) throw refusal(answer, how);
      return answer.body as T;
    },
  };
}

/** The person signed in with `latchkey login`: DPoP-bound tokens, refreshed as needed. */
function personConnection(settings: ConnectionSettings, session: DeviceSession, who: string): AdminConnection {
  const how = `signed in as ${who}`;
  return {
    describe: `${who} at ${settings.issuer} (latchkey login)`,
    async call<T>(method: string, route: string, body?: unknown): Promise<T> {
      const response = await session.call(method, `/admin/v1${route}`, body).catch((error: unknown) => {
        if (error instanceof SessionError)
          throw new CliError(error.problem === 'unreachable' ? EXIT.unreachable : EXIT.notAllowed, error.message);
        throw error;
      });
      const answer = await parse({ status: response.status, text: await response.text() });
      if (answer.status >= 400) throw refusal(answer, how);
      return answer.body as T;
    },
  };
}

const secretFrom = async (env: NodeJS.ProcessEnv) =>
  env.LATCHKEY_CLIENT_SECRET ??
  (env.LATCHKEY_CLIENT_SECRET_FILE ? (await readFile(env.LATCHKEY_CLIENT_SECRET_FILE, 'utf8')).trim() : undefined);

/**
 * How this command reaches the admin API, first that applies: a service client from the
 * environment, the person's saved `latchkey login` for this issuer, or (on the issuer's machine)
 * the local operator's credential. None: a one-line error saying how to sign in.
 */
export async function connect(settings: ConnectionSettings): Promise<AdminConnection> {
  const clientId = settings.env.LATCHKEY_CLIENT_ID;
  if (clientId) {
    const secret = await secretFrom(settings.env);
    if (!secret)
      throw new CliError(
        EXIT.invalid,
        'LATCHKEY_CLIENT_ID needs LATCHKEY_CLIENT_SECRET or LATCHKEY_CLIENT_SECRET_FILE',
      );
    return serviceConnection(settings, clientId, secret);
  }
  const session = adminSession(settings);
  const saved = await session.credentials().catch(() => undefined);
  if (saved) return personConnection(settings, session, saved.email ?? saved.sub ?? 'you');
  if (settings.local) {
    const credential = (
      await readFile(path.join(settings.local.dataDir, LOCAL_OPERATOR_FILE), 'utf8').catch(() => '')
    ).trim();
    if (credential) return localOperatorConnection(settings, credential);
  }
  throw new CliError(
    EXIT.notAllowed,
    `not signed in to ${settings.issuer}: run \`latchkey login\` (or, on the issuer's machine while it runs, use the same DATA_DIR; for automation set LATCHKEY_CLIENT_ID and LATCHKEY_CLIENT_SECRET)`,
  );
}
