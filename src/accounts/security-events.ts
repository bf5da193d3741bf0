import type { PrismaClient } from '../shared/database/generated/issuer/client.ts';
import type { Logger } from '../shared/logging/logger.ts';

export type SecurityEventType =
  | 'sign_in.succeeded'
  | 'sign_in.failed'
  | 'account.locked'
  | 'account.unlocked'
  | 'refresh_token.reuse_detected'
  | 'recovery_code.used'
  | 'passkey.registered'
  | 'passkey.removed'
  | 'passkey.renamed'
  | 'passkey.counter_regressed'
  | 'totp.enrolled'
  | 'totp.removed'
  | 'recovery_codes.regenerated'
  | 'magic_link.requested'
  | 'password.changed'
  | 'profile.updated'
  | 'password_reset.requested'
  | 'password.reset'
  | 'sign_up.requested'
  | 'account.created'
  | 'session.revoked'
  | 'grant.revoked'
  | 'admin.user_created'
  | 'admin.user_disabled'
  | 'admin.user_deleted'
  | 'admin.user_enabled'
  | 'admin.client_created'
  | 'admin.client_deleted'
  | 'admin.client_updated'
  | 'admin.api_changed'
  | 'admin.role_changed'
  | 'admin.roles_assigned'
  | 'admin.password_reset_sent'
  | 'admin.first_administrator'
  | 'admin.client_secret_rotated'
  | 'admin.keys_rotated'
  | 'admin.webhook_changed'
  | 'webhook.disabled'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'api_key.used_from_new_address'
  | 'token_exchange.succeeded'
  | 'token_exchange.refused'
  | 'federation.linked'
  | 'federation.unlinked'
  | 'federation.link_required'
  | 'federation.refused'
  | 'federation.mapped'
  | 'admin.upstream_changed';

export interface SecurityEvent {
  type: SecurityEventType;
  userId?: string | undefined;
  actor: string;
  ip?: string | undefined;
  /** Non-secret facts only: reasons, client ids, counts. */
  detail?: Record<string, string | number | boolean | null>;
}

/**
 * Erasing a person keeps their lines in the log (what happened stays auditable under the account's
 * id, a pseudonym once the account is gone) and clears the addresses they acted from. The database
 * lets this one update through and ignores any other (migration `security_log_erasure`).
 */
export async function eraseAddressesOf(db: PrismaClient, userId: string): Promise<number> {
  const { count } = await db.securityEvent.updateMany({
    where: { OR: [{ userId }, { actor: userId }], ip: { not: null } },
    data: { ip: null },
  });
  return count;
}

/**
 * The append-only security log. Writing never fails the request that caused it: a lost audit line is
 * logged loudly, a refused sign-in because the log was slow would be worse.
 */
export function securityEvents(db: PrismaClient, log: Logger) {
  return {
    /** Writes the event; its id and time, or undefined when it could not be written (logged). */
    async record(event: SecurityEvent): Promise<{ id: bigint; at: Date } | undefined> {
      try {
        return await db.securityEvent.create({
          data: {
            type: event.type,
            userId: event.userId ?? null,
            actor: event.actor,
            ip: event.ip ?? null,
            ...(event.detail ? { detail: event.detail } : {}),
          },
          select: { id: true, at: true },
        });
      } catch (error) {
        log.error({ errMessage: (error as Error).message, eventType: event.type }, 'could not write a security event');
        return undefined;
      }
    },

    /**
     * A page of the log, newest first, by type, account, client (named in `detail.clientId`) and
     * time; `beforeId` continues from the last page. One row more than `limit` when there is more.
     */
    search: (filter: {
      type?: string | undefined;
      userId?: string | undefined;
      clientId?: string | undefined;
      ip?: string | undefined;
      since?: Date | undefined;
      until?: Date | undefined;
      beforeId?: bigint | undefined;
      limit: number;
    }) =>
      db.securityEvent.findMany({
        where: {
          ...(filter.type ? { type: filter.type } : {}),
          ...(filter.userId ? { userId: filter.userId } : {}),
          ...(filter.clientId ? { detail: { path: ['clientId'], equals: filter.clientId } } : {}),
          ...(filter.ip ? { ip: filter.ip } : {}),
          ...(filter.since || filter.until
            ? { at: { ...(filter.since ? { gte: filter.since } : {}), ...(filter.until ? { lt: filter.until } : {}) } }
            : {}),
          ...(filter.beforeId !== undefined ? { id: { lt: filter.beforeId } } : {}),
        },
        orderBy: { id: 'desc' },
        take: filter.limit + 1,
      }),

    list: (filter: { userId?: string; limit?: number } = {}) =>
      db.securityEvent.findMany({
        where: filter.userId ? { userId: filter.userId } : {},
        orderBy: { id: 'desc' },
        take: filter.limit ?? 100,
      }),
  };
}

export type SecurityEvents = ReturnType<typeof securityEvents>;
