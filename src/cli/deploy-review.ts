import type { Config } from '../shared/config/config.ts';

/** How serious a finding is: `error` fails the check (and a CI gate), `warning` is worth reading. */
export type FindingLevel = 'error' | 'warning' | 'ok';

export interface Finding {
  level: FindingLevel;
  /** What was checked, as a short word: `runtime`, `urls`, `database`... */
  area: string;
  message: string;
}

/** What `latchkey check --deploy` learnt from the stores; each part an Error when it could not be read. */
export interface DeploymentFacts {
  database:
    | Error
    | {
        pendingMigrations: string[];
        administrators: Array<{ email: string; secondFactor: boolean }>;
        demoClients: string[];
        newestTokenKeyCreatedAt: Date | undefined;
        /** Relying-party ids passkeys were registered for (null: registered before it was recorded). */
        passkeyRpIds: Array<string | null>;
      };
  /** undefined persistence: the server did not say (managed services often refuse CONFIG). */
  cache: Error | { persistent: boolean | undefined; replicas: number };
  mail: Error | 'reachable';
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The pre-deploy audit: what a production start needs, from the configuration and the facts read
 * from the stores. Pure, so each rule has a unit test; `latchkey check --deploy` gathers the facts.
 */
export function reviewDeployment(config: Config, env: NodeJS.ProcessEnv, facts: DeploymentFacts): Finding[] {
  const findings: Finding[] = [];
  const add = (level: FindingLevel, area: string, message: string) => findings.push({ level, area, message });

  if (config.env === 'production') add('ok', 'runtime', 'NODE_ENV=production');
  else add('error', 'runtime', `NODE_ENV is ${config.env}: set NODE_ENV=production`);

  const issuer = new URL(config.issuer.url);
  const publicUrls: Array<[string, string]> = [
    ['ISSUER_URL', config.issuer.url],
    ['TASK_API_URL', config.taskApi.url],
    ...(config.demoClients ? ([['SPA_URL', config.spa.url]] as Array<[string, string]>) : []),
  ];
  for (const [name, url] of publicUrls) {
    if (url.startsWith('https://')) add('ok', 'urls', `${name} is https`);
    else
      add(
        'error',
        'urls',
        `${name} is ${url}: tokens, cookies and passwords would cross the network in clear; use https`,
      );
  }

  // Latchkey speaks plain HTTP: an https issuer means a proxy in front terminates TLS. Unless it is
  // trusted, every client has the proxy's address (per-address limits and lockout then hit everyone).
  if (issuer.protocol === 'https:' && config.http.proxyHops === 0)
    add(
      'error',
      'proxy',
      'ISSUER_URL is https but TRUST_PROXY=false: a TLS proxy is in front, so set TRUST_PROXY to the number of proxies (see docs/operations.md)',
    );
  else if (config.http.proxyHops > 0) add('ok', 'proxy', `TRUST_PROXY trusts ${config.http.proxyHops} proxy hop(s)`);
  if (issuer.protocol === 'https:') add('ok', 'cookies', 'session and interaction cookies are Secure (https issuer)');
  else if (!LOOPBACK_HOSTS.has(issuer.host.replace(/:\d+$/, '')))
    add('error', 'cookies', 'cookies cannot be Secure on an http issuer: they would be readable on the network');

  if (!config.issuer.keyEncryptionKey)
    add(
      'error',
      'keys',
      'no KEY_ENCRYPTION_KEY: the embedded one is generated into the data folder; set KEY_ENCRYPTION_KEY_FILE to a mounted secret',
    );
  else if (env.KEY_ENCRYPTION_KEY_FILE) add('ok', 'keys', 'the key-encryption key comes from a file');
  else
    add(
      'warning',
      'keys',
      'KEY_ENCRYPTION_KEY is in the environment (readable in process listings and crash reports): prefer KEY_ENCRYPTION_KEY_FILE',
    );

  reviewDatabase(config, facts.database, add);

  if (config.cache.kind === 'memory')
    add('error', 'redis', 'no REDIS_URL: the in-process store is one process only and forgets everything at restart');
  else if (facts.cache instanceof Error) add('error', 'redis', `Redis is unreachable: ${facts.cache.message}`);
  else if (facts.cache.persistent === false && facts.cache.replicas === 0)
    add(
      'warning',
      'redis',
      'Redis keeps nothing across its restart and has no replica: sign-ins in progress, refresh grace records and lockout counters would be lost (docs/operations.md)',
    );
  else if (facts.cache.persistent === undefined && facts.cache.replicas === 0)
    add(
      'warning',
      'redis',
      'Redis did not say whether it persists (CONFIG refused); make sure it does, or has a replica',
    );
  else add('ok', 'redis', `Redis is reachable and ${facts.cache.persistent ? 'persistent' : 'replicated'}`);

  if (config.mail.transport.kind === 'outbox')
    add('error', 'mail', 'no SMTP_URL: mail would only be written to the outbox folder');
  else if (facts.mail instanceof Error) add('error', 'mail', `the SMTP server does not answer: ${facts.mail.message}`);
  else add('ok', 'mail', 'the SMTP server answers');

  if (config.demoClients)
    add('error', 'clients', 'DEMO_CLIENTS=true creates the demo clients at start: turn it off in production');
  return findings;
}

type Add = (level: FindingLevel, area: string, message: string) => void;

function reviewDatabase(config: Config, facts: DeploymentFacts['database'], add: Add): void {
  if (config.issuer.database.kind === 'pglite') {
    add('error', 'database', 'no DATABASE_URL: the embedded PGlite is one process only; use PostgreSQL');
    return;
  }
  if (facts instanceof Error) {
    add('error', 'database', `PostgreSQL is unreachable: ${facts.message}`);
    return;
  }
  if (facts.pendingMigrations.length === 0) add('ok', 'database', 'PostgreSQL is reachable and migrated');
  else
    add(
      config.migrateOnStart ? 'warning' : 'error',
      'database',
      `${facts.pendingMigrations.length} migration(s) not applied (${facts.pendingMigrations.join(', ')}): ${
        config.migrateOnStart ? 'the first instance to start applies them' : 'run latchkey migrate before starting'
      }`,
    );

  if (facts.demoClients.length)
    add(
      'warning',
      'clients',
      `demo clients are registered: ${facts.demoClients.join(', ')} (delete them with latchkey client delete)`,
    );
  else add('ok', 'clients', 'no demo client is registered');

  const withoutSecondFactor = facts.administrators.filter((admin) => !admin.secondFactor);
  if (facts.administrators.length === 0)
    add(
      config.issuer.bootstrapAdmin ? 'warning' : 'error',
      'administrators',
      config.issuer.bootstrapAdmin
        ? 'no administrator yet: LATCHKEY_BOOTSTRAP_ADMIN_EMAIL creates one at the first start; give it a second factor'
        : 'no administrator: set LATCHKEY_BOOTSTRAP_ADMIN_EMAIL (and _PASSWORD_FILE), or follow the setup link the first start prints',
    );
  else if (withoutSecondFactor.length)
    add(
      'error',
      'administrators',
      `administrator(s) without a second factor: ${withoutSecondFactor.map((admin) => admin.email).join(', ')} (TOTP or a passkey, at /account)`,
    );
  else add('ok', 'administrators', `${facts.administrators.length} administrator(s), each with a second factor`);

  const interval = config.issuer.keys.rotationIntervalDays;
  if (!facts.newestTokenKeyCreatedAt) add('warning', 'keys', 'no signing key yet: the first start creates them');
  else if (interval <= 0) add('warning', 'keys', 'KEY_ROTATION_INTERVAL_DAYS=0: keys rotate only on command');
  else {
    const dueAt = facts.newestTokenKeyCreatedAt.getTime() + interval * 86_400_000;
    if (dueAt < Date.now())
      add(
        'error',
        'keys',
        `the signing key rotation is overdue since ${new Date(dueAt).toISOString()}: run latchkey keys rotate`,
      );
    else add('ok', 'keys', `signing keys within their schedule (next rotation by ${new Date(dueAt).toISOString()})`);
  }

  const rpId = config.issuer.webauthn.rpId;
  const others = [...new Set(facts.passkeyRpIds.filter((id): id is string => id !== null && id !== rpId))];
  if (others.length)
    add(
      'error',
      'passkeys',
      `passkeys were registered for relying party ${others.join(', ')} but WEBAUTHN_RP_ID is ${rpId}: they would stop working`,
    );
  else if (facts.passkeyRpIds.length) add('ok', 'passkeys', `passkeys match the relying party ${rpId}`);
}
