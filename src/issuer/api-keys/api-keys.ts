import { createHmac } from 'node:crypto';
import type { ApiKey, PrismaClient } from '../../shared/database/generated/issuer/client.ts';
import type { SecurityEvents } from '../../accounts/security-events.ts';
import type { Mailer } from '../../accounts/mail/mailer.ts';
import { apiKeyExpiring, apiKeyUsedFromNewAddress } from '../../accounts/mail/messages.ts';
import type { RoleGrants, TokenSubject } from '../oidc/resource-servers.ts';
import { after, type PageCursor } from '../../shared/database/page-cursor.ts';
import { generateKey, keyKindOf, visiblePrefix } from './key-format.ts';

export class ApiKeyInputError extends Error {}

/** A person's key or a service client's key. */
export type ApiKeyOwner = TokenSubject;

/** What the key service needs to know of a registered API. */
export interface KeyApi {
  id: string;
  identifier: string;
  scopes: string[];
  roleLimited: boolean;
}

export interface ApiKeyDependencies {
  db: PrismaClient;
  /** The HMAC key the keys are hashed under (a sealed server secret). */
  hashKey: () => Promise<Buffer>;
  apis: () => Promise<KeyApi[]>;
  grantsOf: (owner: ApiKeyOwner) => Promise<RoleGrants>;
  /** A service client's APIs and registered scopes (undefined: no such client). */
  clientScopes: (clientId: string) => Promise<{ resources: string[]; scopes: string[] } | undefined>;
  mailer: Pick<Mailer, 'send'>;
  events: Pick<SecurityEvents, 'record'>;
  issuerUrl: string;
}

export const DEFAULT_KEY_DAYS = 90;
export const MAX_KEY_DAYS = 365;
const NOTICE_BEFORE_MS = 7 * 86_400_000;
const SEEN_ADDRESSES_KEPT = 20;

/** `<API identifier> <scope>`: neither may hold a space (RFC 3986, RFC 6749 §3.3). */
export const permissionOf = (api: string, scope: string) => `${api} ${scope}`;
export function splitPermission(permission: string): { api: string; scope: string } {
  const at = permission.indexOf(' ');
  return { api: permission.slice(0, at), scope: permission.slice(at + 1) };
}

/** Permissions grouped by API (the admin API grants and revokes a role's scopes one API at a time). */
export function scopesByApi(permissions: Iterable<string>): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (const { api, scope } of [...permissions].map(splitPermission))
    grouped.set(api, [...(grouped.get(api) ?? []), scope]);
  return grouped;
}

/** Why a presented key does not authenticate; each is the same `invalid_grant` (or 401) to the caller. */
export type KeyRefusal = 'malformed' | 'unknown' | 'revoked' | 'expired' | 'owner_disabled' | 'no_permissions';

export type KeyCheck =
  | { ok: true; key: ApiKey; owner: ApiKeyOwner; permissions: Set<string> }
  | { ok: false; reason: KeyRefusal; key?: ApiKey };

const ownerOf = (key: ApiKey): ApiKeyOwner => (key.userId ? { userId: key.userId } : { clientId: key.clientId! });

/**
 * Long-lived keys (docs/api-keys.md): made for a person or a service client with a subset of what
 * its owner holds, shown once, stored as a keyed hash, expiring, revocable. A key never grants more
 * than its owner holds at the moment it is used: a role taken away shrinks every key at once.
 */
export function apiKeys(deps: ApiKeyDependencies) {
  const { db } = deps;
  const hashOf = async (key: string) =>
    createHmac('sha256', await deps.hashKey())
      .update(key)
      .digest('base64url');

  /** Every permission the owner holds now: through roles, and all of an API that roles do not limit. */
  async function held(owner: ApiKeyOwner): Promise<Set<string>> {
    const [apis, grants] = await Promise.all([deps.apis(), deps.grantsOf(owner)]);
    const client = 'clientId' in owner ? await deps.clientScopes(owner.clientId) : undefined;
    if ('clientId' in owner && !client) return new Set();
    const out = new Set<string>();
    for (const api of apis) {
      // A service holds only what it could get with client credentials: its APIs, its registered scopes.
      if (client && !client.resources.includes(api.identifier)) continue;
      for (const scope of api.scopes) {
        if (client && !client.scopes.includes(scope)) continue;
        if (!api.roleLimited || grants.scopesByApi.get(api.id)?.has(scope))
          out.add(permissionOf(api.identifier, scope));
      }
    }
    return out;
  }

  async function ownerActive(owner: ApiKeyOwner): Promise<boolean> {
    if ('userId' in owner) {
      const user = await db.user.findUnique({ where: { id: owner.userId }, select: { disabledAt: true } });
      return user !== null && user.disabledAt === null;
    }
    return (await deps.clientScopes(owner.clientId)) !== undefined;
  }

  /** A new address for this key: noted, in the security log, and (a person's key) mailed to the owner. */
  async function noteUse(key: ApiKey, ip: string | undefined): Promise<void> {
    const isNew = ip !== undefined && !key.seenIps.includes(ip);
    await db.apiKey.update({
      where: { id: key.id },
      data: {
        lastUsedAt: new Date(),
        lastUsedIp: ip ?? null,
        ...(isNew ? { seenIps: [ip, ...key.seenIps].slice(0, SEEN_ADDRESSES_KEPT) } : {}),
      },
    });
    if (!isNew) return;
    await deps.events.record({
      type: 'api_key.used_from_new_address',
      userId: key.userId ?? undefined,
      actor: 'system',
      ip,
      detail: { keyId: key.id, prefix: key.prefix, clientId: key.clientId },
    });
    if (key.userId) {
      const user = await db.user.findUnique({ where: { id: key.userId }, select: { email: true } });
      if (user)
        deps.mailer.send({ to: user.email, ...apiKeyUsedFromNewAddress(key.name, key.prefix, ip, deps.issuerUrl) });
    }
  }

  return {
    held,

    /** Makes a key; its text is in the answer and nowhere else, ever. */
    async create(
      owner: ApiKeyOwner,
      input: { name: string; permissions: string[]; expiresInDays?: number | undefined },
    ): Promise<{ key: string; record: ApiKey }> {
      const name = input.name.trim();
      if (!name || name.length > 100) throw new ApiKeyInputError('a key needs a name of 1 to 100 characters');
      const days = input.expiresInDays ?? DEFAULT_KEY_DAYS;
      if (!Number.isInteger(days) || days < 1 || days > MAX_KEY_DAYS)
        throw new ApiKeyInputError(`a key expires in 1 to ${MAX_KEY_DAYS} days`);
      const permissions = [...new Set(input.permissions)];
      if (permissions.length === 0) throw new ApiKeyInputError('a key needs at least one permission');
      const holding = await held(owner);
      const beyond = permissions.filter((permission) => !holding.has(permission));
      if (beyond.length) throw new ApiKeyInputError(`the owner does not hold: ${beyond.join(', ')}`);
      const key = generateKey('userId' in owner ? 'personal' : 'service');
      const record = await db.apiKey.create({
        data: {
          kind: 'userId' in owner ? 'personal' : 'service',
          hash: await hashOf(key),
          prefix: visiblePrefix(key),
          ...('userId' in owner ? { userId: owner.userId } : { clientId: owner.clientId }),
          name,
          permissions,
          expiresAt: new Date(Date.now() + days * 86_400_000),
        },
      });
      return { key, record };
    },

    /** An owner's keys, newest first (revoked ones too: the list is also their history). */
    list: (owner: ApiKeyOwner) =>
      db.apiKey.findMany({
        where: 'userId' in owner ? { userId: owner.userId } : { clientId: owner.clientId },
        orderBy: { createdAt: 'desc' },
      }),

    /** Every key, for administrators, newest first, a page at a time. */
    listAll: (
      filter: { userId?: string | undefined; clientId?: string | undefined },
      take: number,
      cursor: PageCursor | undefined,
    ) =>
      db.apiKey.findMany({
        where: {
          ...(filter.userId ? { userId: filter.userId } : {}),
          ...(filter.clientId ? { clientId: filter.clientId } : {}),
          ...after(cursor),
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take,
      }),

    find: (id: string) => db.apiKey.findUnique({ where: { id } }),

    /** Revokes a key (of this owner, when one is given); undefined when there is no such key. */
    async revoke(id: string, owner?: ApiKeyOwner): Promise<ApiKey | undefined> {
      const key = await db.apiKey.findUnique({ where: { id } });
      if (!key) return undefined;
      if (owner && ('userId' in owner ? key.userId !== owner.userId : key.clientId !== owner.clientId))
        return undefined;
      if (key.revokedAt) return key;
      return db.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    },

    /** "This key leaked": found by its full text (a malformed one is refused unread), revoked at once. */
    async revokeLeaked(presented: string): Promise<ApiKey | undefined> {
      if (!keyKindOf(presented)) return undefined;
      const key = await db.apiKey.findUnique({ where: { hash: await hashOf(presented) } });
      if (!key) return undefined;
      return key.revokedAt ? key : db.apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
    },

    /**
     * What a presented key may do now: its permissions ∩ what its owner holds. A key with a wrong
     * checksum is refused before anything is read; a good one's use is recorded.
     */
    async authenticate(presented: string, ip: string | undefined, kind: 'personal' | 'service'): Promise<KeyCheck> {
      if (keyKindOf(presented) !== kind) return { ok: false, reason: 'malformed' };
      const key = await db.apiKey.findUnique({ where: { hash: await hashOf(presented) } });
      if (!key) return { ok: false, reason: 'unknown' };
      if (key.revokedAt) return { ok: false, reason: 'revoked', key };
      if (key.expiresAt.getTime() <= Date.now()) return { ok: false, reason: 'expired', key };
      const owner = ownerOf(key);
      if (!(await ownerActive(owner))) return { ok: false, reason: 'owner_disabled', key };
      const holding = await held(owner);
      const permissions = new Set(key.permissions.filter((permission) => holding.has(permission)));
      await noteUse(key, ip);
      if (permissions.size === 0) return { ok: false, reason: 'no_permissions', key };
      return { ok: true, key, owner, permissions };
    },

    /** Mails each person whose key expires within seven days, once per key. Returns how many were told. */
    async sendExpiryNotices(): Promise<number> {
      const due = await db.apiKey.findMany({
        where: {
          kind: 'personal',
          revokedAt: null,
          expiryNoticeAt: null,
          expiresAt: { gt: new Date(), lte: new Date(Date.now() + NOTICE_BEFORE_MS) },
        },
        include: { user: { select: { email: true, disabledAt: true } } },
        take: 500,
      });
      let told = 0;
      for (const key of due) {
        // Claimed before mailing: two instances sweeping at once tell the owner once.
        const { count } = await db.apiKey.updateMany({
          where: { id: key.id, expiryNoticeAt: null },
          data: { expiryNoticeAt: new Date() },
        });
        if (count === 0 || !key.user || key.user.disabledAt) continue;
        deps.mailer.send({
          to: key.user.email,
          ...apiKeyExpiring(key.name, key.prefix, key.expiresAt, deps.issuerUrl),
        });
        told += 1;
      }
      return told;
    },
  };
}

export type ApiKeys = ReturnType<typeof apiKeys>;

/** A key as lists show it: never its hash. */
export function presentKey(key: ApiKey) {
  return {
    id: key.id,
    kind: key.kind,
    prefix: key.prefix,
    name: key.name,
    userId: key.userId,
    clientId: key.clientId,
    permissions: key.permissions,
    expiresAt: key.expiresAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    lastUsedIp: key.lastUsedIp,
    revokedAt: key.revokedAt?.toISOString() ?? null,
    createdAt: key.createdAt.toISOString(),
  };
}
