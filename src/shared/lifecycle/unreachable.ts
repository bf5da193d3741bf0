import { parseRedisUrl, redisHosts } from '../cache/redis-topology.ts';
import type { CacheTarget, DatabaseTarget } from '../config/config.ts';

/** What a person can act on, for the network and PostgreSQL errors a wrong or down server gives. */
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be looked up',
  ETIMEDOUT: 'no answer',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  '28P01': 'password authentication failed',
  '28000': 'not allowed to connect',
  '3D000': 'no such database',
};

/** The first recognisable connection failure in an error, its causes or its aggregated errors. */
export function connectionFailure(error: unknown, depth = 0): string | undefined {
  if (!error || typeof error !== 'object' || depth > 5) return undefined;
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string' && REASONS[code]) return REASONS[code];
  if (typeof message === 'string' && /timeout exceeded when trying to connect|connection timeout/i.test(message))
    return 'no answer';
  for (const inner of [cause, ...(Array.isArray(errors) ? (errors as unknown[]) : [])]) {
    const found = connectionFailure(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function hostOf(url: string, defaultPort: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || defaultPort}`;
}

/** One line naming the variable to fix, when a start-up error is the database being out of reach. */
export function databaseUnreachable(error: unknown, target: DatabaseTarget): Error | undefined {
  if (target.kind !== 'postgres') return undefined;
  const reason = connectionFailure(error);
  if (!reason) return undefined;
  return new Error(
    `the PostgreSQL database in ${target.variable} (${hostOf(target.url, '5432')}) cannot be reached (${reason}): start it or correct ${target.variable}`,
  );
}

const hostsOfRedisUrl = (url: string) => {
  const topology = parseRedisUrl(url);
  return typeof topology === 'string' ? hostOf(url, '6379') : redisHosts(topology);
};

/** The same for Redis, whose client reports only that its retries ran out; `reason` is the last socket error seen. */
export function redisUnreachable(target: CacheTarget & { kind: 'redis' }, reason: string | undefined): Error {
  return new Error(
    `Redis in REDIS_URL (${hostsOfRedisUrl(target.url)}) cannot be reached${reason ? ` (${reason})` : ''}: start it or correct REDIS_URL`,
  );
}
