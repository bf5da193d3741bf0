/**
 * `npm start`: runs the issuer, the task API and the demo browser app as three processes (as they
 * run in production), with their logs on this terminal. The issuer creates the demo clients once. Ctrl-C or SIGTERM stops both gracefully; if either exits on its own,
 * the other is stopped and this exits with its code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const here = import.meta.dirname;
const processes: Array<{ name: string; entry: string }> = [
  { name: 'issuer', entry: path.join(here, 'issuer/main.ts') },
  { name: 'task-api', entry: path.join(here, 'resource-server/main.ts') },
  { name: 'spa', entry: path.join(here, 'clients/spa/main.ts') },
];
const env = { ...process.env, DEMO_CLIENTS: process.env.DEMO_CLIENTS ?? 'true' };
const url = (name: string, fallback: string) => process.env[name] ?? fallback;

process.stdout.write(`
  Latchkey demo
    browser app   ${url('SPA_URL', 'http://localhost:5173')}
    issuer        ${url('ISSUER_URL', 'http://localhost:3000')}   (your account: /account)
    task API      ${url('TASK_API_URL', 'http://localhost:4000')}
  No account exists yet, and there is no default password. Either sign up in the browser app
  (the confirmation mail is written to ${path.join(process.env.DATA_DIR ?? './.data', 'outbox')}), or create the first admin:
    stop with Ctrl-C, then: echo 'a long passphrase' | npm run latchkey -- user create --email you@example.com --role admin --verified
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
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', entry], { stdio: 'inherit', detached: true, env });
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
