import { trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Field names whose values are secret wherever they appear in a log object. Requests are logged
 * without bodies or headers by design; this list is the second line of defence for anything a
 * module logs by mistake.
 */
export const SECRET_FIELDS = [
  'authorization',
  'cookie',
  'set-cookie',
  'password',
  'currentPassword',
  'newPassword',
  'passwordHash',
  'secret',
  'client_secret',
  'clientSecret',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'accessToken',
  'refreshToken',
  'code',
  'code_verifier',
  'user_code',
  'otp',
  'totp',
  'totpSecret',
  'recoveryCode',
  'link',
] as const;

const SECRET_FIELD_SET = new Set<string>(SECRET_FIELDS.map((field) => field.toLowerCase()));
const CENSOR = '[redacted]';
/**
 * `code` is a secret where it is an authorization, TOTP or device code, and the one useful field of
 * an error: these shapes are error codes (Prisma P1001, Node ECONNREFUSED and ERR_*, SQLSTATE 57P01
 * or 08006) and never codes we issue (those are long base64url, six digits, or letters without vowels).
 */
const ERROR_CODE = /^(?:P\d{4}|E[A-Z]{3,}|ERR_[A-Z0-9_]+|\d{5}|\d{2}[A-Z]\d{2})$/;
const MAX_DEPTH = 8;

/**
 * Replaces the value of every secret-named field, at any depth, in what is about to be logged. One
 * walk over the object (log objects are small), copying only what changes: pino's own path-based
 * redaction needed ~100 wildcard paths for the same cover and cost more than the request it logged.
 */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let changed: unknown[] | undefined;
    value.forEach((item, index) => {
      const scrubbed = scrubSecrets(item, depth + 1);
      if (scrubbed !== item) (changed ??= [...(value as unknown[])])[index] = scrubbed;
    });
    return changed ?? value;
  }
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  let changed: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const secret =
      SECRET_FIELD_SET.has(key.toLowerCase()) && !(key === 'code' && typeof item === 'string' && ERROR_CODE.test(item));
    const scrubbed = secret ? CENSOR : scrubSecrets(item, depth + 1);
    if (scrubbed !== item) (changed ??= { ...(value as Record<string, unknown>) })[key] = scrubbed;
  }
  return changed ?? value;
}

export interface LoggerSettings {
  level: LoggerOptions['level'];
  format: 'json' | 'pretty';
  name: string;
}

/** Builds the process logger. `destination` lets tests capture the exact bytes that would be written. */
export function createLogger(settings: LoggerSettings, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // With tracing on, each line names its trace and span, beside the request id, so a log line
    // leads to its trace. Without it there is no active span and nothing is added.
    mixin: () => {
      const context = trace.getActiveSpan()?.spanContext();
      return context ? { traceId: context.traceId, spanId: context.spanId } : {};
    },
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => scrubSecrets(object) as Record<string, unknown>,
    },
  };
  if (destination) return pino(options, destination);
  if (settings.format === 'pretty') {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: {
          colorize: process.stdout.isTTY,
          translateTime: 'HH:MM:ss.l',
          ignore: 'pid,hostname',
          singleLine: true,
        },
      },
    });
  }
  // Asynchronous writes: a log line no longer blocks the request that wrote it on stdout (a slow pipe
  // or collector stalled the event loop). Lines are written as soon as the previous write finished,
  // not held for a buffer to fill; pino flushes what is left when the process exits.
  return pino(options, pino.destination({ dest: 1, sync: false }));
}
