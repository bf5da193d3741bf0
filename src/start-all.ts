/**
 * `npm start`: runs the issuer, the task API and the demo browser app as three processes (as they
 * run in production), with their logs on this terminal. The issuer creates the demo clients once.
 * Ctrl-C or SIGTERM stops them all gracefully; if one exits on its own, the others are stopped and
 * this exits with its code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { loadConfig } from './shared/config/config.ts';

/** Loaded before each process's code, so what it imports is instrumented (see tracing.ts). */
const TRACING_PRELOAD = path.join(import.meta.dirname, 'shared/observability/tracing.ts');
import { exitOnStartupError } from './shared/config/startup-errors.ts';

const here = import.meta.dirname;
const processes: Array<{ name: string; entry: string }> = [
  { name: 'issuer', entry: path.join(here, 'issuer/main.ts') },
  { name: 'task-api', entry: path.join(here, 'resource-server/main.ts') },
  { name: 'spa', entry: path.join(here, 'clients/spa/main.ts') },
];
const env = { ...process.env, DEMO_CLIENTS: process.env.DEMO_CLIENTS ?? 'true' };

// The same configuration the three processes will read, so the banner shows what they will use.
let config;
try {
  config = loadConfig(env);
} catch (error) {
  exitOnStartupError('latchkey', error);
}
const mailGoesTo =
  config.mail.transport.kind === 'outbox' ? `is written to ${config.mail.transport.directory}` : 'goes out over SMTP';

process.stdout.write(`
  Latchkey demo
    browser app   ${config.spa.url}
    issuer        ${config.issuer.url}   (your account: /account)
    task API      ${config.taskApi.url}
  There is no default account or password. Sign up in the browser app (the confirmation mail
  ${mailGoesTo}), or create the first admin from another terminal while this runs:
    npm run latchkey -- user create --email you@example.com --role admin --verified
  Then: npm run taskctl -- login   (the command line, device grant)    npm run worker   (the service)

`);

const children = new Map<string, ChildProcess>();
let stopping = false;
let exitCode = 0;

function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  for (const child of children.values()) if (child.exitCode === null) child.kill('SIGTERM');
}

for (const { name, entry } of processes) {
  // Ctrl-C reaches every process in the terminal's group; children handle it themselves, so they
  // run in their own group and hear only what this launcher forwards.
  // The tracing preload first (it does nothing unless OTEL_EXPORTER_OTLP_ENDPOINT is set).
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--import', TRACING_PRELOAD, entry], {
    stdio: 'inherit',
    detached: true,
    env,
  });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      process.stderr.write(`latchkey: ${name} exited (${signal ?? `code ${code}`}); stopping the others\n`);
      stopAll(code === 0 ? 1 : (code ?? 1));
    }
    if (children.size === 0) process.exit(exitCode);
  });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      for (const child of children.values()) child.kill('SIGKILL');
      return;
    }
    stopAll(0);
  });
}
