#!/usr/bin/env node
/**
 * `taskctl`: the demo command-line client. Signs in with the device grant (RFC 8628), keeps a
 * DPoP-bound refresh token in the user's config folder, and calls the task API.
 *
 * Over 300 lines on purpose: it is the project's example of a public native client on
 * oauth4webapi, meant to be read top to bottom (sign-in, refresh, calls, output) and copied whole.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as oauth from 'oauth4webapi';
import QRCode from 'qrcode';
import { DEMO_USER_SCOPE } from '../../shared/protocol.ts';
import { configDirectory, credentialStore, type StoredCredentials } from './credential-store.ts';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, usage: 1, authNeeded: 2, forbidden: 3, notFound: 4, server: 5 } as const;

class CliError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

const USAGE = `taskctl: your Latchkey tasks from the command line

  taskctl login [--no-browser]        sign in with the device grant (a code to confirm in a browser)
  taskctl whoami                      who is signed in
  taskctl tasks list                  my tasks
  taskctl tasks add TITLE [--description TEXT]
  taskctl tasks show ID
  taskctl tasks edit ID [--title TEXT] [--description TEXT] [--status open|in_progress|done]
  taskctl tasks assign ID USER_ID     (or --clear)
  taskctl tasks done ID
  taskctl tasks delete ID
  taskctl logout                      revoke the refresh token at the issuer, then forget it here

Options: --json (machine-readable output), --issuer URL (TASKCTL_ISSUER), --api URL (TASKCTL_API),
         --client-id ID (TASKCTL_CLIENT_ID)
Exit codes: 0 ok, 1 usage, 2 sign-in needed, 3 forbidden, 4 not found, 5 server or network`;

const SCOPE = DEMO_USER_SCOPE;
const allowHttp = (url: string) => ({ [oauth.allowInsecureRequests]: new URL(url).protocol === 'http:' });

interface Task {
  id: string;
  title: string;
  description: string | null;
  status: string;
  assignee: string | null;
  dueAt: string | null;
}

const { values: flags, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        'no-browser': { type: 'boolean', default: false },
        issuer: { type: 'string' },
        api: { type: 'string' },
        'client-id': { type: 'string' },
        title: { type: 'string' },
        description: { type: 'string' },
        status: { type: 'string' },
        clear: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`taskctl: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exit(EXIT.usage);
  }
})();

const settings = {
  issuer: (flags.issuer ?? process.env.TASKCTL_ISSUER ?? 'http://localhost:3000').replace(/\/$/, ''),
  api: (flags.api ?? process.env.TASKCTL_API ?? 'http://localhost:4000').replace(/\/$/, ''),
  clientId: flags['client-id'] ?? process.env.TASKCTL_CLIENT_ID ?? 'latchkey-demo-cli',
};
const store = credentialStore(configDirectory());
const client: oauth.Client = { client_id: settings.clientId };
const print = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
const output = (json: unknown, text: () => void) => (flags.json ? print(JSON.stringify(json)) : text());

async function discover(): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(settings.issuer);
  try {
    return await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, allowHttp(settings.issuer)),
    );
  } catch {
    throw new CliError(EXIT.server, `cannot reach the issuer at ${settings.issuer}`);
  }
}

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

function openBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // No browser here (a server, a container): the printed URL and QR code are enough.
  }
}

/** Tells the person where to confirm: the URL and code, a QR code, or JSON for scripts. Returns the direct link. */
async function showDeviceCode(authorization: oauth.DeviceAuthorizationResponse): Promise<string> {
  const direct = authorization.verification_uri_complete ?? authorization.verification_uri;
  if (flags.json) {
    const { verification_uri, verification_uri_complete, user_code, expires_in } = authorization;
    print(JSON.stringify({ verification_uri, verification_uri_complete, user_code, expires_in }));
  } else {
    print(`To sign in, open ${authorization.verification_uri} and enter the code ${authorization.user_code}`);
    print(`(or open ${direct}, or scan:)`);
    print(await QRCode.toString(direct, { type: 'terminal', small: true }));
  }
  return direct;
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

async function login(): Promise<void> {
  const as = await discover();
  const dpop = oauth.DPoP(client, await store.keyPair());
  const response = await oauth.deviceAuthorizationRequest(
    as,
    client,
    oauth.None(),
    { scope: SCOPE, resource: settings.api },
    allowHttp(settings.issuer),
  );
  const authorization = await oauth.processDeviceAuthorizationResponse(as, client, response);
  const direct = await showDeviceCode(authorization);
  if (!flags['no-browser']) openBrowser(direct);

  let interval = (authorization.interval ?? 5) * 1000;
  const deadline = Date.now() + authorization.expires_in * 1000;
  const spinner = process.stderr.isTTY && !flags.json ? ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] : undefined;
  let frame = 0;
  while (Date.now() < deadline) {
    // Honours the interval the issuer asked for, and slows down by 5 s whenever told to (RFC 8628 §3.5).
    frame = await waitShowingProgress(interval, spinner, frame);
    try {
      const result = await tokenRequest(
        () =>
          oauth.deviceCodeGrantRequest(as, client, oauth.None(), authorization.device_code, {
            DPoP: dpop,
            ...allowHttp(settings.issuer),
          }),
        (answer) => oauth.processDeviceCodeResponse(as, client, answer),
      );
      if (spinner) process.stderr.write('\r\x1b[K');
      const claims = oauth.getValidatedIdTokenClaims(result);
      await store.save({
        ...settings,
        accessToken: result.access_token,
        refreshToken: result.refresh_token,
        expiresAt: Date.now() + (result.expires_in ?? 60) * 1000,
        sub: claims?.sub,
        email: typeof claims?.email === 'string' ? claims.email : undefined,
      });
      const email = typeof claims?.email === 'string' ? claims.email : undefined;
      output({ signedIn: true, sub: claims?.sub, email }, () =>
        print(`Signed in as ${email ?? claims?.sub ?? 'you'}.`),
      );
      return;
    } catch (error) {
      const code = error instanceof oauth.ResponseBodyError ? error.error : undefined;
      if (code === 'authorization_pending') continue;
      if (code === 'slow_down') {
        interval += 5_000;
        continue;
      }
      if (spinner) process.stderr.write('\r\x1b[K');
      if (code === 'access_denied') throw new CliError(EXIT.authNeeded, 'Sign-in was denied in the browser.');
      if (code === 'expired_token')
        throw new CliError(EXIT.authNeeded, 'The code expired before it was confirmed. Run `taskctl login` again.');
      throw error;
    }
  }
  throw new CliError(EXIT.authNeeded, 'The code expired before it was confirmed. Run `taskctl login` again.');
}

/** The stored credentials, refreshed (with the DPoP key) when the access token is about to expire. */
async function credentials(forceRefresh = false): Promise<StoredCredentials> {
  const stored = await store.load();
  if (!stored || stored.issuer !== settings.issuer)
    throw new CliError(EXIT.authNeeded, 'Not signed in. Run `taskctl login`.');
  if (!forceRefresh && Date.now() < stored.expiresAt - 15_000) return stored;
  if (!stored.refreshToken) throw new CliError(EXIT.authNeeded, 'Your sign-in has expired. Run `taskctl login`.');
  const as = await discover();
  const dpop = oauth.DPoP(client, await store.keyPair());
  try {
    const result = await tokenRequest(
      () =>
        oauth.refreshTokenGrantRequest(as, client, oauth.None(), stored.refreshToken!, {
          DPoP: dpop,
          ...allowHttp(settings.issuer),
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
    if (error instanceof oauth.ResponseBodyError)
      throw new CliError(EXIT.authNeeded, 'Your sign-in has ended. Run `taskctl login`.');
    throw error;
  }
}

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  const dpop = oauth.DPoP(client, await store.keyPair());
  const send = async (current: StoredCredentials) => {
    const headers = new Headers({ accept: 'application/json' });
    if (body !== undefined) headers.set('content-type', 'application/json');
    const call = () =>
      oauth.protectedResourceRequest(
        current.accessToken,
        method,
        new URL(path, settings.api),
        headers,
        body === undefined ? null : JSON.stringify(body),
        { DPoP: dpop, ...allowHttp(settings.api) },
      );
    try {
      return await call();
    } catch (error) {
      if (oauth.isDPoPNonceError(error)) return call();
      throw new CliError(EXIT.server, `cannot reach the task API at ${settings.api}`);
    }
  };
  let response = await send(await credentials());
  if (response.status === 401) response = await send(await credentials(true));
  if (response.ok) return response;
  const problem = (await response.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
  const message = problem?.error?.message ?? `the task API answered ${response.status}`;
  if (response.status === 401) throw new CliError(EXIT.authNeeded, `${message} Run \`taskctl login\`.`);
  if (response.status === 403) throw new CliError(EXIT.forbidden, `Forbidden: ${message}`);
  if (response.status === 404) throw new CliError(EXIT.notFound, 'No such task.');
  if (response.status >= 500) throw new CliError(EXIT.server, message);
  throw new CliError(EXIT.usage, message);
}

function table(tasks: Task[]): void {
  if (tasks.length === 0) return print('No tasks.');
  const rows = tasks.map((task) => [task.id, task.status, task.title, task.assignee ?? '']);
  const header = ['ID', 'STATUS', 'TITLE', 'ASSIGNEE'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  for (const row of [header, ...rows])
    print(
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    );
}

function showTask(task: Task): void {
  output(task, () => {
    print(`${task.title}  [${task.status}]`);
    print(`id: ${task.id}`);
    if (task.description) print(task.description);
    if (task.assignee) print(`assigned to: ${task.assignee}`);
  });
}

const need = (value: string | undefined, what: string): string => {
  if (!value) throw new CliError(EXIT.usage, `missing ${what}\n\n${USAGE}`);
  return value;
};
const taskPath = (id: string | undefined) => `/tasks/${encodeURIComponent(need(id, 'the task ID'))}`;

async function main(): Promise<void> {
  const [command, sub, ...rest] = positionals;
  if (flags.help || !command) return print(USAGE);
  switch (command) {
    case 'login':
      return login();
    case 'whoami': {
      const current = await credentials();
      return output({ sub: current.sub, email: current.email, issuer: current.issuer }, () =>
        print(`${current.email ?? current.sub} at ${current.issuer}`),
      );
    }
    case 'logout': {
      const stored = await store.load();
      if (stored?.refreshToken) {
        const as = await discover();
        const response = await oauth.revocationRequest(
          as,
          client,
          oauth.None(),
          stored.refreshToken,
          allowHttp(settings.issuer),
        );
        await oauth.processRevocationResponse(response).catch(() => undefined);
      }
      await store.clear();
      return output({ signedOut: true }, () => print('Signed out.'));
    }
    case 'tasks':
      switch (sub) {
        case 'list': {
          const page = (await (await api('GET', '/tasks/mine?limit=100')).json()) as { items: Task[] };
          return output(page.items, () => table(page.items));
        }
        case 'add': {
          const title = need(rest.join(' ') || flags.title, 'the title');
          return showTask(
            (await (
              await api('POST', '/tasks', {
                title,
                ...(flags.description !== undefined ? { description: flags.description } : {}),
              })
            ).json()) as Task,
          );
        }
        case 'show':
          return showTask((await (await api('GET', taskPath(rest[0]))).json()) as Task);
        case 'edit': {
          const changes = {
            ...(flags.title !== undefined ? { title: flags.title } : {}),
            ...(flags.description !== undefined ? { description: flags.description } : {}),
            ...(flags.status !== undefined ? { status: flags.status } : {}),
          };
          if (Object.keys(changes).length === 0)
            throw new CliError(EXIT.usage, 'name a change: --title, --description or --status');
          return showTask((await (await api('PATCH', taskPath(rest[0]), changes)).json()) as Task);
        }
        case 'assign': {
          const assignee = flags.clear ? null : need(rest[1], 'the user ID to assign (or --clear)');
          return showTask((await (await api('PUT', `${taskPath(rest[0])}/assignee`, { assignee })).json()) as Task);
        }
        case 'done':
          return showTask((await (await api('PATCH', taskPath(rest[0]), { status: 'done' })).json()) as Task);
        case 'delete':
          await api('DELETE', taskPath(rest[0]));
          return output({ deleted: rest[0] }, () => print('Deleted.'));
        default:
          throw new CliError(EXIT.usage, `unknown tasks command ${sub ?? ''}\n\n${USAGE}`);
      }
    default:
      throw new CliError(EXIT.usage, `unknown command ${command}\n\n${USAGE}`);
  }
}

try {
  await main();
  process.exit(EXIT.ok);
} catch (error) {
  const code = error instanceof CliError ? error.code : EXIT.server;
  const message = error instanceof CliError ? error.message : `unexpected problem: ${(error as Error).message}`;
  if (flags.json) process.stdout.write(`${JSON.stringify({ error: message, exitCode: code })}\n`);
  process.stderr.write(`taskctl: ${message}\n`);
  process.exit(code);
}
