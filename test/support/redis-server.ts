import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { freePort } from './processes.ts';

export const REDIS_SERVER_BINARY = process.env.REDIS_SERVER_BINARY ?? '/usr/bin/redis-server';
export const redisServerAvailable = () => existsSync(REDIS_SERVER_BINARY);

/** A Redis server of the test's own (Debian's redis-server), on a free loopback port, that the test may kill and start again. */
export async function startRedisServer(
  port?: number,
): Promise<{ url: string; port: number; kill(): Promise<void>; start(): Promise<void>; stop(): Promise<void> }> {
  const chosen = port ?? (await freePort());
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      REDIS_SERVER_BINARY,
      ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const probe = new Redis({
      port: chosen,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => {});
    for (let attempt = 0; attempt < 50; attempt += 1) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    probe.disconnect();
    throw new Error(`redis-server did not start on port ${chosen}`);
  };
  const kill = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${chosen}/0`, port: chosen, kill, start, stop: kill };
}
