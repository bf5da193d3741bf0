import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../support/processes.ts';

const CLOCK_TICKS_PER_SECOND = 100;

/** A server the benchmark started, with what the OS says about it. */
export interface BenchProcess {
  name: string;
  child: ChildProcess;
  url: string;
  /** CPU seconds (user + system) the process has used so far, from /proc/<pid>/stat. */
  cpuSeconds(): number;
  /** Resident memory in MB now, from /proc/<pid>/status. */
  rssMb(): number;
  stop(): Promise<void>;
}

function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

function procRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('VmRSS:'));
  return Math.round(Number(line?.replace(/\D+/g, '') ?? 0) / 102.4) / 10;
}

/**
 * Starts a Node entry point as its own process and waits until `ready` resolves (an HTTP check, or a
 * line on its output). Output is drained (logs are written as in production, then dropped).
 */
export async function startProcess(options: {
  name: string;
  entry: string;
  url: string;
  env: Record<string, string>;
  ready: (output: () => string) => Promise<boolean>;
  nodeArgs?: string[];
  timeoutMs?: number;
}): Promise<BenchProcess & { startupMs: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), path.join(projectRoot, options.entry)], {
    env: { PATH: process.env.PATH, ISSUER_METRICS_PORT: '0', TASK_API_METRICS_PORT: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!(await options.ready(() => output).catch(() => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const startupMs = Math.round(performance.now() - started);
  const pid = child.pid!;
  return {
    name: options.name,
    child,
    url: options.url,
    startupMs,
    cpuSeconds: () => procCpuSeconds(pid),
    rssMb: () => procRssMb(pid),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export const httpReady = (url: string) => async () => (await fetch(url)).ok;
export const outputReady = (pattern: RegExp) => async (output: () => string) => pattern.test(output());
