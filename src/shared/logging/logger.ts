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

/** pino's redaction works on explicit paths; cover each secret field at the depths our objects reach. */
function redactionPaths(): string[] {
  const paths: string[] = [];
  for (const field of SECRET_FIELDS) {
    const plain = /^[A-Za-z_$][\w$]*$/.test(field);
    const child = plain ? `.${field}` : `["${field}"]`;
    if (plain) paths.push(field);
    paths.push(`*${child}`, `*.*${child}`, `*.*.*${child}`);
  }
  return paths;
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
    redact: { paths: redactionPaths(), censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (destination) return pino(options, destination);
  if (settings.format === 'pretty') {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true } },
    });
  }
  return pino(options);
}
