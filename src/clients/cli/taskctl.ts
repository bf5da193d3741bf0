#!/usr/bin/env node
/**
 * `taskctl`: the demo command-line client. Signs in with the device grant (RFC 8628), keeps a
 * DPoP-bound refresh token in the user's config folder, and calls the task API.
 *
 * The session (device grant, DPoP, refresh) is device-session.ts, which `latchkey` shares; this file
 * is the commands and their output.
 */
import { withPortFollowingUrls } from '../../shared/config/port-urls.ts';
import { parseArgs } from 'node:util';
import { DEMO_USER_SCOPE } from '../../shared/protocol.ts';
import { configDirectory, credentialStore } from './credential-store.ts';
import { readFileSync } from 'node:fs';
import { deviceSession, SessionError, type SessionProblem } from './device-session.ts';
import { keySession } from './key-session.ts';

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

Options: --json (machine-readable output), --issuer URL (TASKCTL_ISSUER, else ISSUER_URL),
         --api URL (TASKCTL_API, else TASK_API_URL), --client-id ID (TASKCTL_CLIENT_ID)
Scripts and CI: TASKCTL_TOKEN=lk_pat_… (or --token-file FILE) uses an API key made at the
         issuer's /account/keys instead of a sign-in; it is traded for short-lived tokens as needed.
Exit codes: 0 ok, 1 usage, 2 sign-in needed, 3 forbidden, 4 not found, 5 server or network`;

const SCOPE = DEMO_USER_SCOPE;

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
        'token-file': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`taskctl: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exit(EXIT.usage);
  }
})();

// The same variables as the servers and the worker (so moved ports move taskctl too); its own names win.
const servers = withPortFollowingUrls(process.env);
const settings = {
  issuer: (flags.issuer ?? process.env.TASKCTL_ISSUER ?? servers.ISSUER_URL!).replace(/\/$/, ''),
  api: (flags.api ?? process.env.TASKCTL_API ?? servers.TASK_API_URL!).replace(/\/$/, ''),
  clientId: flags['client-id'] ?? process.env.TASKCTL_CLIENT_ID ?? 'latchkey-demo-cli',
};
const store = credentialStore(configDirectory());
const print = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
const output = (json: unknown, text: () => void) => (flags.json ? print(JSON.stringify(json)) : text());
/** A personal access token for scripts: from --token-file, else TASKCTL_TOKEN; never an argument. */
function personalKey(): string | undefined {
  const file = flags['token-file'];
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      throw new CliError(EXIT.usage, `cannot read the key file ${file}`);
    }
  }
  return process.env.TASKCTL_TOKEN?.trim() || undefined;
}
const deviceSignIn = deviceSession({
  ...settings,
  scope: SCOPE,
  store,
  loginCommand: 'taskctl login',
  json: flags.json,
  openBrowser: !flags['no-browser'],
  print,
});
const SESSION_EXITS: Record<SessionProblem, number> = {
  'auth-needed': EXIT.authNeeded,
  forbidden: EXIT.forbidden,
  'not-found': EXIT.notFound,
  invalid: EXIT.usage,
  unreachable: EXIT.server,
};

let keyed: ReturnType<typeof keySession> | undefined;
/** The key's session when a key was given, else the signed-in device session. */
function session() {
  const key = personalKey();
  if (!key) return deviceSignIn;
  keyed ??= keySession({ ...settings, key });
  return keyed;
}

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  const response = await session().call(method, path, body);
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
    case 'login': {
      if (personalKey())
        throw new CliError(EXIT.usage, 'an API key is in use (TASKCTL_TOKEN or --token-file): no sign-in is needed');
      const { sub, email } = await deviceSignIn.login();
      return output({ signedIn: true, sub, email }, () => print(`Signed in as ${email ?? sub ?? 'you'}.`));
    }
    case 'whoami': {
      if (personalKey()) {
        const { sub } = await keySession({ ...settings, key: personalKey()! }).whoami();
        return output({ sub, issuer: settings.issuer, via: 'api-key' }, () =>
          print(`${sub ?? 'unknown'} at ${settings.issuer} (API key)`),
        );
      }
      const current = await deviceSignIn.credentials();
      return output({ sub: current.sub, email: current.email, issuer: current.issuer }, () =>
        print(`${current.email ?? current.sub} at ${current.issuer}`),
      );
    }
    case 'logout': {
      await deviceSignIn.logout();
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
  const code =
    error instanceof CliError ? error.code : error instanceof SessionError ? SESSION_EXITS[error.problem] : EXIT.server;
  const message =
    error instanceof CliError || error instanceof SessionError
      ? error.message
      : `unexpected problem: ${(error as Error).message}`;
  if (flags.json) process.stdout.write(`${JSON.stringify({ error: message, exitCode: code })}\n`);
  process.stderr.write(`taskctl: ${message}\n`);
  process.exit(code);
}
