import { parseRedisUrl } from '../cache/redis-topology.ts';
import { readFileSync } from 'node:fs';
import { withPortFollowingUrls } from './port-urls.ts';
import path from 'node:path';
import { z } from 'zod';

/**
 * Every setting Latchkey reads, validated once at start-up. Secrets may be given as `NAME_FILE`
 * (a path whose contents are the value), so they never need to sit in the environment itself.
 *
 * Longer than 300 lines on purpose: one module is the one place every variable, its default, its
 * validation and its place in the typed `Config` can be read together (as oidc-provider keeps its
 * defaults in one file); the README table and .env.example are checked against it.
 */

/** Variables that carry a secret: each may come from `NAME_FILE`, and none has a default. */
export const SECRET_VARIABLES = [
  'DATABASE_URL',
  'TASKS_DATABASE_URL',
  'REDIS_URL',
  'SMTP_URL',
  'KEY_ENCRYPTION_KEY',
  'LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD',
] as const;

const port = z.coerce.number().int().min(1).max(65_535);
const positiveMs = z.coerce.number().int().min(0).max(600_000);
/** A metrics listener's port, or `off`; 0 asks the system for any free port (tests). */
const metricsPort = z
  .string()
  .regex(/^(off|[0-9]{1,5})$/, 'must be a port (0-65535) or off')
  // null, not undefined, for off: zod's default() would take an undefined output for a missing value.
  .transform((value) => (value === 'off' ? null : Number(value)))
  .refine((value) => value === null || value <= 65_535, 'must be a port (0-65535) or off');

const postgresUrl = z
  .string()
  .refine((value) => /^postgres(ql)?:\/\//.test(value), 'must be a postgres:// or postgresql:// URL')
  .refine((value) => URL.canParse(value), 'is not a valid URL');

const redisUrl = z.string().superRefine((value, ctx) => {
  const topology = parseRedisUrl(value);
  if (typeof topology === 'string') ctx.addIssue({ code: 'custom', message: topology });
});

/** A public base URL: http(s), no query or fragment, no trailing slash (so identifiers compare exactly). */
/** A public base URL; a trailing slash is dropped (`https://id.example.com/` is the same issuer). */
const publicUrl = z
  .string()
  .transform((value) => value.replace(/\/+$/, ''))
  .refine((value) => URL.canParse(value), 'is not a valid URL (such as https://id.example.com)')
  .refine(
    (value) => !URL.canParse(value) || /^https?:$/.test(new URL(value).protocol),
    'must be an http:// or https:// URL',
  )
  .refine((value) => {
    if (!URL.canParse(value)) return true;
    const url = new URL(value);
    return url.search === '' && url.hash === '';
  }, 'must have no query or fragment');

const schemaName = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case PostgreSQL identifier');

const environmentSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
    DATA_DIR: z.string().min(1).default('./.data'),
    HOST: z.string().min(1).default('127.0.0.1'),
    // false, true (one proxy) or the number of proxies in front: the client's address is the one the outermost of them saw.
    TRUST_PROXY: z
      .string()
      .regex(/^(true|false|[0-9]{1,2})$/, 'must be false, true or the number of proxies in front (1-10)')
      .default('false')
      .transform((value) => (value === 'false' ? 0 : value === 'true' ? 1 : Number(value)))
      .refine((hops) => hops <= 10, 'must be false, true or the number of proxies in front (1-10)'),
    SHUTDOWN_TIMEOUT_MS: positiveMs.default(10_000),
    // On SIGTERM: how long /readyz says 503 while the process still serves, so load balancers take it out first.
    SHUTDOWN_READINESS_DELAY_MS: z.coerce.number().int().min(0).max(120_000).default(1_000),
    READINESS_TIMEOUT_MS: z.coerce.number().int().min(50).max(30_000).default(1_000),

    DATABASE_URL: postgresUrl.optional(),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    TASKS_DATABASE_URL: postgresUrl.optional(),
    TASKS_DATABASE_SCHEMA: schemaName.default('tasks'),
    MIGRATE_ON_START: z.enum(['true', 'false']).default('true'),

    REDIS_URL: redisUrl.optional(),
    REDIS_KEY_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9:_-]{0,64}$/, 'may hold only letters, digits, ":", "_" and "-"')
      .default('latchkey:'),

    SMTP_URL: z
      .string()
      .refine((value) => /^smtps?:\/\//.test(value) && URL.canParse(value), 'must be an smtp:// or smtps:// URL')
      .optional(),
    MAIL_FROM: z.string().min(3).default('Latchkey <no-reply@localhost>'),

    ISSUER_URL: publicUrl.default('http://localhost:3000'),
    ISSUER_PORT: port.default(3000),
    KEY_ENCRYPTION_KEY: z
      .string()
      .refine(
        (value) => /^[A-Za-z0-9_-]{43}$/.test(value) || /^[0-9a-fA-F]{64}$/.test(value),
        'must be 32 bytes as 64 hex digits or 43 base64url characters',
      )
      .optional(),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(10).max(86_400).default(600),
    ID_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3_600),
    REFRESH_TOKEN_IDLE_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .default(14 * 86_400),
    REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .default(30 * 86_400),
    REFRESH_REUSE_GRACE_SECONDS: z.coerce.number().int().min(0).max(60).default(10),
    SESSION_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .default(14 * 86_400),
    KEY_ROTATION_INTERVAL_DAYS: z.coerce.number().min(0).max(3_650).default(30),
    KEY_PUBLISH_LEAD_SECONDS: z.coerce.number().int().min(0).max(86_400).default(900),
    KEY_RELOAD_INTERVAL_SECONDS: z.coerce.number().min(0.1).max(3_600).default(30),
    DEVICE_POLL_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(60).default(5),
    PASSWORD_MIN_LENGTH: z.coerce.number().int().min(8).max(64).default(12),
    PASSWORD_HASH_MEMORY_KIB: z.coerce
      .number()
      .int()
      .min(19_456, 'must be at least 19456 (OWASP argon2id minimum)')
      .max(4_194_304)
      .default(19_456),
    PASSWORD_HASH_TIME_COST: z.coerce.number().int().min(2).max(20).default(2),
    PASSWORD_HASH_PARALLELISM: z.coerce.number().int().min(1).max(16).default(1),
    LOCKOUT_MAX_FAILURES: z.coerce.number().int().min(1).max(100).default(5),
    LOCKOUT_WINDOW_SECONDS: z.coerce.number().int().min(10).max(86_400).default(900),
    LOCKOUT_BASE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
    LOCKOUT_MAX_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(86_400),
    LOCKOUT_IP_MAX_FAILURES: z.coerce.number().int().min(1).max(10_000).default(30),
    TASK_API_URL: publicUrl.default('http://localhost:4000'),
    TASK_API_PORT: port.default(4000),
    ISSUER_INTERNAL_URL: publicUrl.optional(),
    TASK_API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
    TASK_API_ISSUER_KEYS_STALE_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .default(86_400),
    TASK_API_IP_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(1_200),
    STEP_UP_MAX_AGE_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
    SIGN_UP_ENABLED: z.enum(['true', 'false']).default('true'),
    WEBAUTHN_RP_ID: z
      .string()
      .trim()
      .toLowerCase()
      .regex(/^[a-z0-9.-]{1,253}$/, 'must be a host name, such as example.com')
      .optional(),
    WEBAUTHN_ORIGINS: z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((origin) => origin.trim().replace(/\/$/, ''))
          .filter(Boolean),
      )
      .refine(
        (origins) => origins.every((origin) => URL.canParse(origin) && new URL(origin).origin === origin),
        'must be a comma-separated list of origins, such as https://id.example.com',
      )
      .optional(),
    LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: z.string().trim().min(3).max(254).optional(),
    LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: z.string().min(1).max(1024).optional(),
    MAGIC_LINK_TTL_SECONDS: z.coerce.number().int().min(1).max(3_600).default(600),
    PASSWORD_RESET_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(1_800),
    RECENT_SIGN_IN_SECONDS: z.coerce.number().int().min(0).max(86_400).default(600),
    SPA_URL: publicUrl.default('http://localhost:5173'),
    SPA_PORT: port.default(5173),
    SPA_CLIENT_ID: z
      .string()
      .regex(/^[A-Za-z0-9._-]{3,64}$/, 'must be a client id')
      .default('latchkey-demo-spa'),
    DEMO_CLIENTS: z.enum(['true', 'false']).default('false'),
    CLIENT_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(300).default(5),
    ALLOW_HTTP_ISSUER: z.enum(['true', 'false']).default('false'),
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES: z.enum(['true', 'false']).default('false'),
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    ISSUER_METRICS_PORT: metricsPort.default(9464),
    TASK_API_METRICS_PORT: metricsPort.default(9465),
    METRICS_CLIENT_ID_LABEL: z.enum(['true', 'false']).default('false'),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production') {
      // The embedded stores are single-process and keep no secrets safe; production must say where state lives.
      if (!env.DATABASE_URL)
        ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: 'is required when NODE_ENV=production' });
      if (!env.REDIS_URL)
        ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'is required when NODE_ENV=production' });
    }
    if (env.NODE_ENV === 'production' && !env.KEY_ENCRYPTION_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['KEY_ENCRYPTION_KEY'],
        message: 'is required when NODE_ENV=production (generate one with: openssl rand -hex 32)',
      });
    }
    if (!env.LATCHKEY_BOOTSTRAP_ADMIN_EMAIL !== !env.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD)
      ctx.addIssue({
        code: 'custom',
        path: ['LATCHKEY_BOOTSTRAP_ADMIN_EMAIL'],
        message: 'and LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD (or _FILE) go together',
      });
    if (env.REFRESH_TOKEN_IDLE_TTL_SECONDS > env.REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['REFRESH_TOKEN_IDLE_TTL_SECONDS'],
        message: 'must not exceed REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS',
      });
    }
    if (env.NODE_ENV === 'production' && httpOffLoopback(env.ISSUER_URL) && env.ALLOW_HTTP_ISSUER !== 'true') {
      ctx.addIssue({
        code: 'custom',
        path: ['ISSUER_URL'],
        message:
          'must be https:// when NODE_ENV=production (passwords, cookies and tokens would cross the network in clear); on a private network only, set ALLOW_HTTP_ISSUER=true',
      });
    }
    if (env.NODE_ENV === 'production' && !env.SMTP_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['SMTP_URL'],
        message: 'is required when NODE_ENV=production (mail would only reach the outbox folder)',
      });
    }
    const rpProblem = relyingPartyProblem(env.WEBAUTHN_RP_ID, env.ISSUER_URL);
    if (rpProblem) ctx.addIssue({ code: 'custom', path: ['WEBAUTHN_RP_ID'], message: rpProblem });
    if (env.TASKS_DATABASE_URL && !env.DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['TASKS_DATABASE_URL'],
        message: 'needs DATABASE_URL too (the embedded mode has no separate task database)',
      });
    }
  });

type Environment = z.infer<typeof environmentSchema>;

/** An http:// URL whose host is not this machine (browsers treat localhost as secure; nothing else). */
function httpOffLoopback(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const { protocol, hostname } = new URL(url);
  return protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(hostname);
}

/**
 * Passkeys are bound to a relying-party id: the issuer's host, or a registrable suffix of it (so
 * `example.com` serves `id.example.com`). Anything else fails in every browser with an error people
 * cannot read (the commonest passkey support problem behind proxies), so it is refused here.
 * "Registrable" is approximated as: a parent domain with at least one dot, or localhost itself.
 */
function relyingPartyProblem(rpId: string | undefined, issuerUrl: string): string | undefined {
  if (rpId === undefined || !URL.canParse(issuerUrl)) return undefined;
  const host = new URL(issuerUrl).hostname;
  if (rpId === host) return undefined;
  if (host.endsWith(`.${rpId}`) && rpId.includes('.')) return undefined;
  return `must be the issuer's host (${host}) or a parent domain of it; passkeys for ${rpId} cannot work on ${host}`;
}

export type DatabaseTarget =
  | {
      kind: 'postgres';
      url: string;
      schema: string | undefined;
      poolSize: number;
      /** The environment variable the URL came from, for messages that tell a person what to fix. */
      variable: 'DATABASE_URL' | 'TASKS_DATABASE_URL';
    }
  | { kind: 'pglite'; dataDir: string };

export type CacheTarget = { kind: 'redis'; url: string; keyPrefix: string } | { kind: 'memory' };

export interface Config {
  env: Environment['NODE_ENV'];
  log: { level: Environment['LOG_LEVEL']; format: 'json' | 'pretty' };
  dataDir: string;
  /** True when no DATABASE_URL is given: PGlite, in-process cache, mail to an outbox. */
  embedded: boolean;
  /** proxyHops: how many reverse proxies stand in front (0: none, X-Forwarded-* ignored). */
  http: {
    host: string;
    proxyHops: number;
    shutdownTimeoutMs: number;
    shutdownReadinessDelayMs: number;
    readinessTimeoutMs: number;
  };
  migrateOnStart: boolean;
  issuer: {
    url: string;
    port: number;
    database: DatabaseTarget;
    /** 32 bytes; undefined in the embedded mode, where one is generated into the data folder. */
    keyEncryptionKey: Buffer | undefined;
    ttl: { accessToken: number; idToken: number; refreshIdle: number; refreshAbsolute: number; session: number };
    refreshReuseGraceSeconds: number;
    keys: { rotationIntervalDays: number; publishLeadSeconds: number; reloadIntervalSeconds: number };
    devicePollIntervalSeconds: number;
    lockout: {
      maxFailures: number;
      windowSeconds: number;
      baseLockSeconds: number;
      maxLockSeconds: number;
      ipMaxFailures: number;
    };
    passwords: { minLength: number; memoryCost: number; timeCost: number; parallelism: number };
    /** Passkeys' relying party: its id (a host) and the page origins assertions may come from. */
    webauthn: { rpId: string; origins: string[] };
    /** Whether anyone may create an account from the sign-in page (a verification mail finishes it). */
    signUpEnabled: boolean;
    /** For unattended deployments: the first administrator, created at the first start if none exists. */
    bootstrapAdmin: { email: string; password: string } | undefined;
    /** Lifetimes of mailed links, and how recent a sign-in must be for sensitive account changes. */
    magicLinkTtlSeconds: number;
    passwordResetTtlSeconds: number;
    recentSignInSeconds: number;
    /** How long each instance keeps a client's metadata (0: read the database every time). */
    clientCacheTtlSeconds: number;
  };
  /** The demo browser app: its origin is the one the issuer and the task API allow for CORS. */
  spa: { url: string; port: number; clientId: string };
  /** Create the demo browser app, CLI and worker clients at start-up if missing (`npm start` sets it). */
  demoClients: boolean;
  taskApi: {
    url: string;
    port: number;
    database: DatabaseTarget;
    /** Where this process reaches the issuer, when that differs from its public URL (containers). */
    issuerInternalUrl: string | undefined;
    rateLimitPerMinute: number;
    /** With the issuer unreachable, how long after its last fetch the key set keeps verifying. */
    issuerKeysStaleIfErrorSeconds: number;
    /** Requests per minute per client address, counted before authentication. */
    rateLimitPerAddressPerMinute: number;
    stepUpMaxAgeSeconds: number;
  };
  cache: CacheTarget;
  /**
   * Prometheus metrics, each process on a listener of its own (undefined: off), away from the public
   * ports; `clientIdLabel` adds the client id to the token counters (a label per client).
   */
  metrics: { host: string; issuerPort: number | undefined; taskApiPort: number | undefined; clientIdLabel: boolean };
  /**
   * Where webhook deliveries may go: https only in production; loopback and private addresses
   * only when allowed (tests, or receivers on a private network).
   */
  webhooks: { httpsOnly: boolean; allowPrivate: boolean };
  /** SMTP when SMTP_URL is set; otherwise each message is written to the outbox folder. */
  mail: { from: string; transport: { kind: 'smtp'; url: string } | { kind: 'outbox'; directory: string } };
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Resolves `NAME_FILE` into `NAME` for secrets; giving both is ambiguous and refused. */
function resolveSecretFiles(env: NodeJS.ProcessEnv, problems: string[]): Record<string, string | undefined> {
  const resolved: Record<string, string | undefined> = { ...env };
  for (const name of SECRET_VARIABLES) {
    const filePath = env[`${name}_FILE`];
    if (filePath === undefined || filePath === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`${name} and ${name}_FILE are both set; set only one`);
      continue;
    }
    try {
      resolved[name] = readFileSync(filePath, 'utf8').trim();
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      problems.push(`${name}_FILE: cannot read ${filePath} (${reason})`);
    }
  }
  // An empty variable means "not set", as in most shells' `VAR=` idiom.
  for (const [key, value] of Object.entries(resolved)) if (value === '') delete resolved[key];
  return resolved;
}

/** Reads and validates the environment. Throws ConfigError listing every problem, one line each. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const resolved = withPortFollowingUrls(resolveSecretFiles(env, problems));
  const parsed = environmentSchema.safeParse(resolved);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path.join('.') || 'environment';
      // Never echo the received value: it may be a secret.
      const message =
        issue.code === 'invalid_value' ||
        issue.code === 'invalid_type' ||
        issue.code === 'too_small' ||
        issue.code === 'too_big'
          ? describeIssue(issue)
          : issue.message;
      problems.push(`${name} ${message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return toConfig(parsed.data);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `must be one of: ${issue.values.map(String).join(', ')}`;
    case 'invalid_type':
      return issue.expected === 'number' ? 'must be a number' : `must be a ${issue.expected}`;
    case 'too_small':
      return `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    default:
      return issue.message;
  }
}

function toConfig(env: Environment): Config {
  const dataDir = path.resolve(env.DATA_DIR);
  const embedded = env.DATABASE_URL === undefined;
  const issuerDatabase: DatabaseTarget = env.DATABASE_URL
    ? {
        kind: 'postgres',
        url: env.DATABASE_URL,
        schema: undefined,
        poolSize: env.DATABASE_POOL_SIZE,
        variable: 'DATABASE_URL',
      }
    : { kind: 'pglite', dataDir: path.join(dataDir, 'issuer-db') };
  // The task API owns its tables in a schema of its own, so it can move to another database unchanged.
  const taskUrl = env.TASKS_DATABASE_URL ?? env.DATABASE_URL;
  const taskDatabase: DatabaseTarget = taskUrl
    ? {
        kind: 'postgres',
        url: taskUrl,
        schema: env.TASKS_DATABASE_SCHEMA,
        poolSize: env.DATABASE_POOL_SIZE,
        variable: env.TASKS_DATABASE_URL ? 'TASKS_DATABASE_URL' : 'DATABASE_URL',
      }
    : { kind: 'pglite', dataDir: path.join(dataDir, 'tasks-db') };
  return {
    env: env.NODE_ENV,
    log: { level: env.LOG_LEVEL, format: env.LOG_FORMAT ?? (env.NODE_ENV === 'development' ? 'pretty' : 'json') },
    dataDir,
    embedded,
    http: {
      host: env.HOST,
      proxyHops: env.TRUST_PROXY,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
      shutdownReadinessDelayMs: env.SHUTDOWN_READINESS_DELAY_MS,
      readinessTimeoutMs: env.READINESS_TIMEOUT_MS,
    },
    migrateOnStart: env.MIGRATE_ON_START === 'true',
    issuer: issuerConfig(env, issuerDatabase),
    spa: { url: env.SPA_URL, port: env.SPA_PORT, clientId: env.SPA_CLIENT_ID },
    demoClients: env.DEMO_CLIENTS === 'true',
    taskApi: {
      url: env.TASK_API_URL,
      port: env.TASK_API_PORT,
      database: taskDatabase,
      issuerInternalUrl: env.ISSUER_INTERNAL_URL,
      rateLimitPerMinute: env.TASK_API_RATE_LIMIT_PER_MINUTE,
      rateLimitPerAddressPerMinute: env.TASK_API_IP_RATE_LIMIT_PER_MINUTE,
      issuerKeysStaleIfErrorSeconds: env.TASK_API_ISSUER_KEYS_STALE_SECONDS,
      stepUpMaxAgeSeconds: env.STEP_UP_MAX_AGE_SECONDS,
    },
    cache: env.REDIS_URL ? { kind: 'redis', url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX } : { kind: 'memory' },
    webhooks: {
      httpsOnly: env.NODE_ENV === 'production',
      allowPrivate: env.WEBHOOK_ALLOW_PRIVATE_ADDRESSES === 'true',
    },
    metrics: {
      host: env.METRICS_HOST,
      issuerPort: env.ISSUER_METRICS_PORT ?? undefined,
      taskApiPort: env.TASK_API_METRICS_PORT ?? undefined,
      clientIdLabel: env.METRICS_CLIENT_ID_LABEL === 'true',
    },
    mail: {
      from: env.MAIL_FROM,
      transport: env.SMTP_URL
        ? { kind: 'smtp', url: env.SMTP_URL }
        : { kind: 'outbox', directory: path.join(dataDir, 'outbox') },
    },
  };
}

/** The issuer's slice: its address, keys, lifetimes, lockout, password and sign-in settings. */
function issuerConfig(env: Environment, database: DatabaseTarget): Config['issuer'] {
  return {
    url: env.ISSUER_URL,
    port: env.ISSUER_PORT,
    database,
    keyEncryptionKey: env.KEY_ENCRYPTION_KEY
      ? Buffer.from(env.KEY_ENCRYPTION_KEY, /^[0-9a-fA-F]{64}$/.test(env.KEY_ENCRYPTION_KEY) ? 'hex' : 'base64url')
      : undefined,
    ttl: {
      accessToken: env.ACCESS_TOKEN_TTL_SECONDS,
      idToken: env.ID_TOKEN_TTL_SECONDS,
      refreshIdle: env.REFRESH_TOKEN_IDLE_TTL_SECONDS,
      refreshAbsolute: env.REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS,
      session: env.SESSION_TTL_SECONDS,
    },
    refreshReuseGraceSeconds: env.REFRESH_REUSE_GRACE_SECONDS,
    keys: {
      rotationIntervalDays: env.KEY_ROTATION_INTERVAL_DAYS,
      publishLeadSeconds: env.KEY_PUBLISH_LEAD_SECONDS,
      reloadIntervalSeconds: env.KEY_RELOAD_INTERVAL_SECONDS,
    },
    devicePollIntervalSeconds: env.DEVICE_POLL_INTERVAL_SECONDS,
    lockout: {
      maxFailures: env.LOCKOUT_MAX_FAILURES,
      windowSeconds: env.LOCKOUT_WINDOW_SECONDS,
      baseLockSeconds: env.LOCKOUT_BASE_SECONDS,
      maxLockSeconds: env.LOCKOUT_MAX_SECONDS,
      ipMaxFailures: env.LOCKOUT_IP_MAX_FAILURES,
    },
    passwords: {
      minLength: env.PASSWORD_MIN_LENGTH,
      memoryCost: env.PASSWORD_HASH_MEMORY_KIB,
      timeCost: env.PASSWORD_HASH_TIME_COST,
      parallelism: env.PASSWORD_HASH_PARALLELISM,
    },
    signUpEnabled: env.SIGN_UP_ENABLED === 'true',
    webauthn: {
      rpId: env.WEBAUTHN_RP_ID ?? new URL(env.ISSUER_URL).hostname,
      origins: env.WEBAUTHN_ORIGINS ?? [new URL(env.ISSUER_URL).origin],
    },
    bootstrapAdmin:
      env.LATCHKEY_BOOTSTRAP_ADMIN_EMAIL && env.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD
        ? { email: env.LATCHKEY_BOOTSTRAP_ADMIN_EMAIL, password: env.LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD }
        : undefined,
    magicLinkTtlSeconds: env.MAGIC_LINK_TTL_SECONDS,
    passwordResetTtlSeconds: env.PASSWORD_RESET_TTL_SECONDS,
    recentSignInSeconds: env.RECENT_SIGN_IN_SECONDS,
    clientCacheTtlSeconds: env.CLIENT_CACHE_TTL_SECONDS,
  };
}

/** The names the configuration module reads; the docker-compose and .env.example tests check against it. */
export const CONFIG_VARIABLES: readonly string[] = [
  ...Object.keys(environmentSchema.shape),
  ...SECRET_VARIABLES.map((name) => `${name}_FILE`),
];
