/**
 * What REDIS_URL names: one server, a Sentinel-watched primary, or a Cluster. The last two list
 * several nodes in the URL's host part, which WHATWG URLs cannot parse, hence this small parser:
 *
 * - `redis://[user:password@]host[:port][/db]` (and `rediss://` for TLS): one server;
 * - `redis-sentinel://[user:password@]host:port,host:port/<primary name>[/db]`: ask the sentinels
 *   where the primary named is, follow failovers;
 * - `redis-cluster://[user:password@]host:port,host:port`: seed nodes of a Redis Cluster.
 *
 * The user and password are the data nodes' (sentinels are assumed to need none).
 */
export interface RedisNode {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTopology =
  | ({ kind: 'single'; url: string } & Credentials)
  | ({ kind: 'sentinel'; sentinels: RedisNode[]; name: string; db: number } & Credentials)
  | ({ kind: 'cluster'; nodes: RedisNode[] } & Credentials);

const SCHEMES = /^(rediss?|redis-sentinel|rediss-sentinel|redis-cluster|rediss-cluster):\/\/(.*)$/;

/** The topology REDIS_URL names, or a sentence saying what is wrong with it (no secret repeated). */
export function parseRedisUrl(value: string): RedisTopology | string {
  const match = SCHEMES.exec(value);
  if (!match) return 'must be a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL';
  const scheme = match[1]!;
  const tls = scheme.startsWith('rediss');
  if (scheme === 'redis' || scheme === 'rediss') {
    if (!URL.canParse(value)) return 'is not a valid URL';
    const url = new URL(value);
    return { kind: 'single', url: value, tls, ...credentialsOf(url.username, url.password) };
  }
  const rest = match[2]!;
  const at = rest.lastIndexOf('@');
  const userInfo = at >= 0 ? rest.slice(0, at) : '';
  const [hostList = '', ...path] = rest.slice(at + 1).split('/');
  const nodes = parseNodes(hostList);
  if (typeof nodes === 'string') return nodes;
  const colon = userInfo.indexOf(':');
  const credentials = {
    tls,
    ...credentialsOf(colon >= 0 ? userInfo.slice(0, colon) : userInfo, colon >= 0 ? userInfo.slice(colon + 1) : ''),
  };
  if (scheme.endsWith('cluster')) {
    if (path.some(Boolean)) return 'a redis-cluster:// URL names no database (a cluster has only database 0)';
    return { kind: 'cluster', nodes, ...credentials };
  }
  const [name, db = '0'] = path;
  if (!name) return 'a redis-sentinel:// URL needs the primary name as its path (redis-sentinel://host:26379/mymaster)';
  if (!/^\d{1,2}$/.test(db)) return 'the database after the primary name must be a number';
  return { kind: 'sentinel', sentinels: nodes, name: decodeURIComponent(name), db: Number(db), ...credentials };
}

function parseNodes(list: string): RedisNode[] | string {
  const nodes: RedisNode[] = [];
  for (const entry of list.split(',')) {
    const match = /^(\[[0-9a-fA-F:]+\]|[^:[\]]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65_535) return `each node must be host:port ("${entry}" is not)`;
    nodes.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return nodes;
}

function credentialsOf(username: string, password: string): { username?: string; password?: string } {
  return {
    ...(username ? { username: decodeURIComponent(username) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
  };
}

/** The host:port of each node REDIS_URL names (the sentinels, for Sentinel), never credentials. */
export function redisHosts(topology: RedisTopology): string {
  if (topology.kind === 'single') {
    const url = new URL(topology.url);
    return `${url.hostname}:${url.port || '6379'}`;
  }
  return (topology.kind === 'sentinel' ? topology.sentinels : topology.nodes)
    .map((node) => `${node.host}:${node.port}`)
    .join(', ');
}

/** Where the cache is, for logs and error messages: hosts and ports, never credentials. */
export function describeRedis(topology: RedisTopology): string {
  if (topology.kind === 'single') return `Redis at ${redisHosts(topology)}`;
  return topology.kind === 'sentinel'
    ? `Redis primary "${topology.name}" through the sentinels ${redisHosts(topology)}`
    : `Redis Cluster seeded by ${redisHosts(topology)}`;
}
