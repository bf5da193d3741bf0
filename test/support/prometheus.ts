import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { temporaryDirectory } from './environment.ts';
import { freePort } from './processes.ts';

/** Debian's `prometheus` package (CI installs it): the server and its `promtool`. */
export const PROMETHEUS_BINARY = process.env.PROMETHEUS_BINARY ?? '/usr/bin/prometheus';
export const PROMTOOL_BINARY = process.env.PROMTOOL_BINARY ?? '/usr/bin/promtool';
export const needsPrometheus =
  existsSync(PROMETHEUS_BINARY) && existsSync(PROMTOOL_BINARY)
    ? false
    : 'needs Prometheus and promtool (apt-get install prometheus); CI installs them';

/** `promtool check metrics` on a scrape's text: resolves with its verdict (problems listed), never throws. */
export function promtoolCheck(text: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(PROMTOOL_BINARY, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ ok: code === 0, output }));
    child.stdin.end(text);
  });
}

/** A real Prometheus server scraping `targets` every second, with its HTTP API on a free port. */
export async function startPrometheus(targets: string[]): Promise<{
  query(expression: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}> {
  const dir = await temporaryDirectory('latchkey-prometheus-');
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    'scrape_configs:',
    '  - job_name: latchkey',
    `    static_configs: [{ targets: [${targets.map((target) => `'${target}'`).join(', ')}] }]`,
  ].join('\n');
  const file = path.join(dir.path, 'prometheus.yml');
  await writeFile(file, config);
  const child = spawn(
    PROMETHEUS_BINARY,
    [
      `--config.file=${file}`,
      `--storage.tsdb.path=${path.join(dir.path, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    async query(expression) {
      const url = `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expression)}`;
      const response = await fetch(url).catch(() => undefined);
      if (!response?.ok) return [];
      const body = (await response.json()) as { data?: { result?: [] } };
      return body.data?.result ?? [];
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await dir.remove();
    },
  };
}
