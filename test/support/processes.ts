import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const projectRoot = path.resolve(import.meta.dirname, '../..');

export interface Spawned {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Starts one of Latchkey's entry points as its own process with exactly the given environment. */
export function spawnEntry(entry: string, env: Record<string, string | undefined>, args: string[] = []): Spawned {
  const child = spawn(process.execPath, [path.join(projectRoot, entry), ...args], {
    // Metrics listeners on any free port unless a test names one: several processes may run at once.
    env: { PATH: process.env.PATH, ISSUER_METRICS_PORT: '0', TASK_API_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters) waiter();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    exited,
    waitForOutput: (pattern, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(output)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no output matching ${pattern} within ${timeoutMs} ms; output so far:\n${output}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}

/**
 * Where the kernel takes the local ports of outgoing connections from (Linux's default otherwise).
 * A port given out from that range can be taken by any process's next connection between being
 * chosen and being listened on, which a busy machine made happen (EADDRINUSE at a service's start).
 */
function ephemeralPortsStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const start = Number(low);
    return Number.isInteger(start) && start > 21_000 ? start : 32_768;
  } catch {
    return 32_768;
  }
}
const FIRST_PORT = 20_000; // above every default port the suite or the README uses (3000-9465)
const EPHEMERAL_START = ephemeralPortsStart();

/** Whether 127.0.0.1:`port` can be listened on now. */
const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/**
 * A port free now (for services and child processes, which must be told their port up front),
 * drawn at random below the ephemeral range, so that no outgoing connection takes it before it is
 * listened on.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries += 1) {
    const port = FIRST_PORT + randomInt(EPHEMERAL_START - FIRST_PORT);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port between ${FIRST_PORT} and ${EPHEMERAL_START} after 100 tries`);
}
