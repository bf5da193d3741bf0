/**
 * One error type for everything our own routes refuse. `code` is stable and machine-readable;
 * `message` is safe to show to the caller. Anything that is not an AppError is treated as a bug:
 * logged in full, answered with a generic 500.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  readonly expose = true;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export const badRequest = (message: string, code = 'invalid_request') => new AppError(400, code, message);
export const notFound = (message = 'Not found.') => new AppError(404, 'not_found', message);

export interface ErrorEnvelope {
  error: { code: string; message: string; requestId: string };
}

/** Client errors raised by koa itself or its body parsers, mapped to stable codes and fixed messages. */
const HTTP_CLIENT_ERRORS: Record<number, { code: string; message: string }> = {
  400: { code: 'invalid_request', message: 'The request could not be understood.' },
  401: { code: 'unauthorized', message: 'Authentication is required.' },
  403: { code: 'forbidden', message: 'You are not allowed to do that.' },
  404: { code: 'not_found', message: 'Not found.' },
  405: { code: 'method_not_allowed', message: 'That method is not allowed here.' },
  406: { code: 'not_acceptable', message: 'No acceptable representation.' },
  413: { code: 'payload_too_large', message: 'The request body is too large.' },
  415: { code: 'unsupported_media_type', message: 'That content type is not supported.' },
  429: { code: 'rate_limited', message: 'Too many requests; try again later.' },
};

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
/** ioredis: the connection is down, a command timed out, or it gave up retrying. */
const REDIS_UNAVAILABLE =
  /Connection is closed|Command timed out|enableOfflineQueue|MaxRetriesPerRequest|Reached the max retries|Socket closed unexpectedly|connect ETIMEDOUT/;
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

export interface ClassifiedError {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
  /** True when this is not a client error: the details belong in the log, not the response. */
  unexpected: boolean;
}

/** Decides what a caller may learn about an error. Never returns the original message of a non-AppError. */
export function classifyError(error: unknown): ClassifiedError {
  if (error instanceof AppError) {
    return {
      status: error.status,
      code: error.code,
      message: error.message,
      headers: error.headers,
      unexpected: error.status >= 500,
    };
  }
  if (isDependencyFailure(error)) {
    return {
      status: 503,
      code: 'temporarily_unavailable',
      message: 'The service is briefly unavailable; try again in a few seconds.',
      headers: { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
      unexpected: false,
    };
  }
  const status =
    typeof (error as { status?: unknown })?.status === 'number' ? (error as { status: number }).status : 500;
  const known = HTTP_CLIENT_ERRORS[status];
  if (known && (error as { expose?: unknown }).expose === true) {
    return { status, ...known, headers: {}, unexpected: false };
  }
  return {
    status: 500,
    code: 'internal_error',
    message: 'Something went wrong on our side.',
    headers: {},
    unexpected: true,
  };
}
