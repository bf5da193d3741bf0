import nodemailer from 'nodemailer';
import { Redis } from 'ioredis';
import type { Config } from '../shared/config/config.ts';
import { openDatabase } from '../shared/database/connection.ts';
import { PrismaClient as IssuerClient } from '../shared/database/generated/issuer/client.ts';
import { PrismaClient as TasksClient } from '../shared/database/generated/tasks/client.ts';
import { MIGRATIONS, pendingMigrations } from '../shared/database/migrations.ts';
import type { Logger } from '../shared/logging/logger.ts';
import { withTimeout } from '../shared/http/health.ts';
import { DEMO_CLIENT_IDS } from '../shared/protocol.ts';
import { ADMIN_ROLE } from '../issuer/admin/admin-api.ts';
import type { DeploymentFacts } from './deploy-review.ts';

const TIMEOUT_MS = 5_000;

/** An unreachable store is a finding, not a hang. */
const bounded = <T>(promise: Promise<T>, what: string) => withTimeout(promise, TIMEOUT_MS, `${what} did not answer`);

const asError = (error: unknown) => new Error((error as Error).message.split('\n')[0] ?? 'failed');

/** What `latchkey check --deploy` reads from PostgreSQL, Redis and the SMTP server (never writes). */
export async function gatherDeploymentFacts(config: Config, log: Logger): Promise<DeploymentFacts> {
  const [database, cache, mail] = await Promise.all([
    databaseFacts(config, log).catch(asError),
    cacheFacts(config).catch(asError),
    mailFacts(config).catch(asError),
  ]);
  return { database, cache, mail };
}

async function databaseFacts(config: Config, log: Logger): Promise<DeploymentFacts['database']> {
  // The embedded database belongs to the running issuer (one process): not opened here.
  if (config.issuer.database.kind === 'pglite') return new Error('embedded');
  const issuer = await bounded(
    openDatabase(config.issuer.database, (adapter) => new IssuerClient({ adapter }), log),
    'PostgreSQL',
  );
  try {
    const tasks = await bounded(
      openDatabase(config.taskApi.database, (adapter) => new TasksClient({ adapter }), log),
      'the task database',
    );
    const pending = await Promise.all([
      pendingMigrations(issuer, MIGRATIONS.issuer),
      pendingMigrations(tasks, MIGRATIONS.tasks).then((names) => names.map((name) => `tasks/${name}`)),
    ])
      .then((lists) => lists.flat())
      .finally(() => tasks.close());
    const db = issuer.client;
    const [administrators, demoClients, newestKey, passkeys] = await Promise.all([
      db.user.findMany({
        where: { disabledAt: null, roles: { some: { role: { name: ADMIN_ROLE } } } },
        select: { email: true, totpEnabledAt: true, _count: { select: { passkeys: true } } },
      }),
      db.client.findMany({ where: { id: { in: Object.values(DEMO_CLIENT_IDS) } }, select: { id: true } }),
      db.signingKey.findFirst({ where: { purpose: 'token' }, orderBy: { createdAt: 'desc' } }),
      db.passkey.findMany({ distinct: ['rpId'], select: { rpId: true } }),
    ]);
    return {
      pendingMigrations: pending,
      administrators: administrators.map((admin) => ({
        email: admin.email,
        secondFactor: admin.totpEnabledAt !== null || admin._count.passkeys > 0,
      })),
      demoClients: demoClients.map((client) => client.id),
      newestTokenKeyCreatedAt: newestKey?.createdAt,
      passkeyRpIds: passkeys.map((passkey) => passkey.rpId),
    };
  } finally {
    await issuer.close();
  }
}

async function cacheFacts(config: Config): Promise<DeploymentFacts['cache']> {
  if (config.cache.kind === 'memory') return new Error('in-process');
  const redis = new Redis(config.cache.url, {
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await bounded(redis.connect(), 'Redis');
    const replication = String(await redis.info('replication'));
    const replicas = Number(/connected_slaves:(\d+)/.exec(replication)?.[1] ?? 0);
    const persistent = await Promise.all([redis.config('GET', 'appendonly'), redis.config('GET', 'save')]).then(
      ([appendonly, save]) => {
        const value = (reply: unknown) => (Array.isArray(reply) ? String(reply[1] ?? '') : '');
        return value(appendonly) === 'yes' || value(save).trim() !== '';
      },
      () => undefined,
    );
    return { persistent, replicas };
  } finally {
    redis.disconnect();
  }
}

async function mailFacts(config: Config): Promise<DeploymentFacts['mail']> {
  if (config.mail.transport.kind === 'outbox') return new Error('outbox');
  const transport = nodemailer.createTransport({
    url: config.mail.transport.url,
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
  });
  try {
    await bounded(transport.verify(), 'the SMTP server');
    return 'reachable';
  } finally {
    transport.close();
  }
}
