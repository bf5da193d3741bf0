import type { PrismaClient } from '../../shared/database/generated/issuer/client.ts';
import { ADMIN_ROLE } from '../admin/admin-api.ts';

/** What the overview counts from the security log over the last day, in the order shown. */
const COUNTED = [
  { type: 'sign_in.succeeded', label: 'Sign-ins' },
  { type: 'sign_in.failed', label: 'Failed sign-ins' },
  { type: 'account.locked', label: 'Accounts locked' },
  { type: 'account.created', label: 'New accounts' },
  { type: 'token_exchange.succeeded', label: 'Token exchanges' },
  { type: 'refresh_token.reuse_detected', label: 'Refresh tokens replayed' },
];

/**
 * The console's first page: the last day in numbers (from the security log, one grouped query),
 * and what needs an operator: an administrator without a second factor, a key rotation overdue,
 * mail failing.
 */
export function consoleOverview({
  db,
  mailState,
  rotationIntervalDays,
  tokensByGrant,
}: {
  db: PrismaClient;
  mailState: () => 'ok' | 'failing';
  rotationIntervalDays: number;
  /** Access tokens this instance issued since it started, by grant type. */
  tokensByGrant: () => Promise<Array<{ grantType: string; count: number }>>;
}) {
  return async () => {
    const since = new Date(Date.now() - 86_400_000);
    const [grouped, unprotected, newestKey, tokens, people] = await Promise.all([
      db.securityEvent.groupBy({
        by: ['type'],
        where: { at: { gte: since }, type: { in: COUNTED.map((counted) => counted.type) } },
        _count: { _all: true },
      }),
      db.user.findMany({
        where: {
          disabledAt: null,
          totpEnabledAt: null,
          passkeys: { none: {} },
          roles: { some: { role: { name: ADMIN_ROLE } } },
        },
        select: { email: true },
        take: 20,
      }),
      db.signingKey.findFirst({
        where: { purpose: 'token' },
        orderBy: { createdAt: 'desc' },
        select: { createdAt: true },
      }),
      tokensByGrant(),
      // Sessions live in Redis with no index across accounts: the people who signed in are counted instead.
      db.securityEvent.groupBy({ by: ['userId'], where: { at: { gte: since }, type: 'sign_in.succeeded' } }),
    ]);
    const nextRotation =
      rotationIntervalDays > 0 && newestKey
        ? new Date(newestKey.createdAt.getTime() + rotationIntervalDays * 86_400_000).toISOString().slice(0, 10)
        : undefined;
    const counts = [
      { label: 'People who signed in', value: people.length },
      ...COUNTED.map((counted) => ({
        label: counted.label,
        value: grouped.find((group) => group.type === counted.type)?._count._all ?? 0,
      })),
    ];
    const attention = [
      ...unprotected.map((user) => `The administrator ${user.email} has no second factor.`),
      ...(rotationIntervalDays > 0 &&
      newestKey &&
      Date.now() - newestKey.createdAt.getTime() > (rotationIntervalDays + 1) * 86_400_000
        ? [`The signing keys are overdue for rotation (every ${rotationIntervalDays} days).`]
        : []),
      ...(mailState() === 'failing' ? ['Mail is failing: messages wait in the queue and are retried.'] : []),
    ];
    return {
      counts,
      attention,
      nextRotation,
      tokens: tokens.map((entry) => ({
        label: entry.grantType.replace('urn:ietf:params:oauth:grant-type:', ''),
        value: entry.count,
      })),
    };
  };
}
