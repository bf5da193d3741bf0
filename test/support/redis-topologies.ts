import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { temporaryDirectory } from './environment.ts';
import { freePort } from './processes.ts';
import { REDIS_SERVER_BINARY } from './redis-server.ts';

const run = promisify(execFile);
const REDIS_CLI = process.env.REDIS_CLI_BINARY ?? '/usr/bin/redis-cli';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Node {
  port: number;
  child: ChildProcess;
  kill(): Promise<void>;
}

/** One redis-server (or sentinel) with its own config file in `dir`; killed with the topology. */
async function startNode(dir: string, name: string, lines: string[], sentinel = false): Promise<Node> {
  const port = await freePort();
  const file = path.join(dir, `${name}.conf`);
  await writeFile(
    file,
    [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'save ""', 'appendonly no', ...lines].join('\n') + '\n',
  );
  const child = spawn(REDIS_SERVER_BINARY, sentinel ? [file, '--sentinel'] : [file], { stdio: 'ignore' });
  await waitFor(async () => (await cli(port, 'PING')) === 'PONG', `${name} on port ${port}`);
  return {
    port,
    child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function stopAll(nodes: Node[], dir: { remove(): Promise<void> }): Promise<void> {
  await Promise.all(nodes.map((node) => node.kill()));
  await dir.remove();
}

/** One command to one node over a connection that never retries; what the node answered. */
async function call(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

/** A command's answer as text ('' when the node does not answer). */
async function cli(port: number, ...args: string[]): Promise<string> {
  try {
    const answer = await call(port, ...args);
    return Array.isArray(answer) ? answer.join(' ') : String(answer);
  } catch {
    return '';
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface RedisTopology {
  url: string;
  /** Kills the current primary (of the slot holding `key`, for a cluster) and returns at once; the failover runs meanwhile. */
  killPrimary(key?: string): Promise<number>;
  /** Resolves when a replica has become primary (after killPrimary). */
  promoted(killedPort: number, key?: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A primary, one replica and three sentinels (quorum 2) on loopback, failing over a second after the
 * primary stops answering: what a small production set-up looks like, fast enough for a test.
 */
export async function startRedisSentinel(name = 'latchkey'): Promise<RedisTopology> {
  const dir = await temporaryDirectory();
  const nodes: Node[] = [];
  try {
    const primary = await startNode(dir.path, 'primary', []);
    nodes.push(primary);
    const replica = await startNode(dir.path, 'replica', [`replicaof 127.0.0.1 ${primary.port}`]);
    nodes.push(replica);
    await waitFor(
      async () => (await cli(replica.port, 'INFO', 'replication')).includes('master_link_status:up'),
      'the replica to sync',
    );
    const sentinels: Node[] = [];
    for (let index = 0; index < 3; index += 1) {
      const sentinel = await startNode(
        dir.path,
        `sentinel-${index}`,
        [
          `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
        ],
        true,
      );
      sentinels.push(sentinel);
      nodes.push(sentinel);
    }
    const primaryPort = async () => {
      const answer = await cli(sentinels[0]!.port, 'SENTINEL', 'get-master-addr-by-name', name);
      return Number(answer.split(' ')[1]);
    };
    // The sentinels must know the replica and each other before a failover can be agreed.
    await waitFor(
      async () => (await cli(sentinels[0]!.port, 'SENTINEL', 'master', name)).includes('num-other-sentinels 2'),
      'the sentinels to find each other',
    );
    const byPort = (port: number) => nodes.find((node) => node.port === port);
    const topology: RedisTopology = {
      url: `redis-sentinel://${sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(',')}/${name}`,
      async killPrimary() {
        const port = await primaryPort();
        await byPort(port)?.kill();
        return port;
      },
      async promoted(killedPort) {
        await waitFor(async () => {
          const port = await primaryPort();
          return port !== killedPort && (await cli(port, 'ROLE')).startsWith('master');
        }, 'the sentinels to promote the replica');
      },
      stop: () => stopAll(nodes, dir),
    };
    return topology;
  } catch (error) {
    await stopAll(nodes, dir);
    throw error;
  }
}

/**
 * A Redis Cluster of three primaries, each with a replica, on loopback (node timeout one second),
 * made with `redis-cli --cluster create`, as an operator would.
 */
export async function startRedisCluster(): Promise<RedisTopology> {
  const dir = await temporaryDirectory();
  const nodes: Node[] = [];
  try {
    for (let index = 0; index < 6; index += 1)
      nodes.push(
        await startNode(dir.path, `node-${index}`, [
          'cluster-enabled yes',
          `cluster-config-file nodes-${index}.conf`,
          'cluster-node-timeout 1000',
          // A replica takes over however long it was cut off (the test kills its primary outright).
          'cluster-replica-validity-factor 0',
        ]),
      );
    await run(REDIS_CLI, [
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    const clusterOk = async (port: number) => (await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok');
    await waitFor(
      async () => (await Promise.all(nodes.map((node) => clusterOk(node.port)))).every(Boolean),
      'the cluster',
    );
    const alive = () => nodes.filter((node) => node.child.exitCode === null && node.child.signalCode === null);
    const primaryOf = async (key: string) => {
      const asker = alive()[0]!;
      const slot = await cli(asker.port, 'CLUSTER', 'KEYSLOT', key);
      const shards = await clusterSlots(asker.port);
      return shards.find((shard) => shard.from <= Number(slot) && Number(slot) <= shard.to)!.primaryPort;
    };
    const topology: RedisTopology = {
      url: `redis-cluster://${nodes
        .slice(0, 3)
        .map((node) => `127.0.0.1:${node.port}`)
        .join(',')}`,
      async killPrimary(key = 'any') {
        const port = await primaryOf(key);
        await nodes.find((node) => node.port === port)?.kill();
        return port;
      },
      async promoted(killedPort, key = 'any') {
        await waitFor(async () => {
          const port = await primaryOf(key).catch(() => killedPort);
          return port !== killedPort && (await clusterOk(port));
        }, 'the cluster to promote a replica');
      },
      stop: () => stopAll(nodes, dir),
    };
    return topology;
  } catch (error) {
    await stopAll(nodes, dir);
    throw error;
  }
}

/** CLUSTER SLOTS as ranges and the port of each range's primary. */
async function clusterSlots(port: number): Promise<Array<{ from: number; to: number; primaryPort: number }>> {
  const slots = (await call(port, 'CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
  return slots.map(([from, to, primary]) => ({ from, to, primaryPort: Number(primary[1]) }));
}
