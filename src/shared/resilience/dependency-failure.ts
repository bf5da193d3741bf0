/**
 * Telling "a dependency is away" from "the request or our code was wrong", for every process and
 * layer: the HTTP edges answer the first with 503 and Retry-After, and domain code lets it through
 * rather than reading it as "not found".
 */

/** Network errors of a socket to PostgreSQL, Redis or SMTP. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** Prisma's codes for "could not reach or keep the database" (P1xxx) and an exhausted pool (P2024, P2037). */
const PRISMA_UNAVAILABLE = /^P1\d{3}$|^P2024$|^P2037$/;
/** Driver-adapter error kinds that mean the database is away, not that the query was wrong. */
const ADAPTER_UNAVAILABLE = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TlsConnectionError',
]);
/** SQLSTATE classes 08 (connection) and 57P (operator intervention: shutdown, restart), and 53300 (too many connections). */
const SQLSTATE_UNAVAILABLE = /^08\w{3}$|^57P0[1-4]$|^53300$/;
/** ioredis: the connection is down, a command timed out, or it gave up retrying; Redis itself: a cluster or primary mid-failover. */
const REDIS_UNAVAILABLE =
  /Connection is closed|Command timed out|enableOfflineQueue|MaxRetriesPerRequest|Reached the max retries|Socket closed unexpectedly|connect ETIMEDOUT|CLUSTERDOWN|Too many Cluster redirections|TRYAGAIN|MASTERDOWN/;
/** pg and PGlite: the connection went away under a query. */
const DRIVER_UNAVAILABLE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|PGlite is closed/i;

/**
 * True when an error means a dependency (PostgreSQL, Redis) is unreachable or overloaded, rather
 * than that the request or our code was wrong. Such errors are answered 503 with Retry-After,
 * never 500. Walks the cause chain: drivers wrap each other's errors.
 */
export function isDependencyFailure(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const candidate = error as {
    name?: unknown;
    code?: unknown;
    kind?: unknown;
    message?: unknown;
    cause?: unknown;
    meta?: { driverAdapterError?: unknown };
  };
  if (candidate.name === 'PrismaClientInitializationError' || candidate.name === 'MaxRetriesPerRequestError')
    return true;
  if (
    typeof candidate.code === 'string' &&
    (NETWORK_CODES.has(candidate.code) ||
      PRISMA_UNAVAILABLE.test(candidate.code) ||
      SQLSTATE_UNAVAILABLE.test(candidate.code))
  )
    return true;
  if (typeof candidate.kind === 'string' && ADAPTER_UNAVAILABLE.has(candidate.kind)) return true;
  if (
    typeof candidate.message === 'string' &&
    (REDIS_UNAVAILABLE.test(candidate.message) || DRIVER_UNAVAILABLE.test(candidate.message))
  )
    return true;
  return (
    isDependencyFailure(candidate.cause, depth + 1) ||
    isDependencyFailure(candidate.meta?.driverAdapterError, depth + 1)
  );
}

/** Seconds a caller is asked to wait when a dependency is away. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
