import autocannon from 'autocannon';
import type { BenchProcess } from './processes.ts';

export interface Measured {
  requests: number;
  seconds: number;
  perSecond: number;
  /** Requests per CPU-second of the server process (user + system, read from /proc). */
  perCpuSecond: number;
  errors: number;
  rssMb: number;
}

export interface Latency {
  rate: number;
  p50: number;
  p99: number;
  errors: number;
}

export type RequestSpec = Pick<autocannon.Options, 'method' | 'headers' | 'body' | 'requests'> & { path: string };

const CONNECTIONS = 16;

async function cannon(
  server: BenchProcess,
  spec: RequestSpec,
  seconds: number,
  overallRate?: number,
): Promise<autocannon.Result> {
  return autocannon({
    url: `${server.url}${spec.path}`,
    connections: CONNECTIONS,
    duration: seconds,
    ...(overallRate ? { overallRate } : {}),
    ...(spec.method ? { method: spec.method } : {}),
    ...(spec.headers ? { headers: spec.headers } : {}),
    ...(spec.body ? { body: spec.body } : {}),
    ...(spec.requests ? { requests: spec.requests } : {}),
  });
}

/** As many requests as the server answers in `seconds` over 16 keep-alive connections, with the CPU the server spent on them. */
export async function maxThroughput(server: BenchProcess, spec: RequestSpec, seconds: number): Promise<Measured> {
  const cpuBefore = server.cpuSeconds();
  const result = await cannon(server, spec, seconds);
  const cpu = server.cpuSeconds() - cpuBefore;
  const ok = result['2xx'];
  return {
    requests: ok,
    seconds: result.duration,
    perSecond: Math.round(ok / result.duration),
    perCpuSecond: cpu > 0 ? Math.round(ok / cpu) : 0,
    errors: result.errors + result.non2xx + result.timeouts,
    rssMb: server.rssMb(),
  };
}

/** Latency at a fixed rate (half the measured maximum), corrected for coordinated omission. */
export async function latencyAt(
  server: BenchProcess,
  spec: RequestSpec,
  rate: number,
  seconds: number,
): Promise<Latency> {
  const result = await cannon(server, spec, seconds, Math.max(1, Math.round(rate)));
  return {
    rate: Math.round(rate),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}
