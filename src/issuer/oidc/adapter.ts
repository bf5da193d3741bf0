import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Cache } from '../../shared/cache/cache.ts';
import type { OidcRecordRepository } from './oidc-record-repository.ts';
import { currentBrowser } from './browser-context.ts';
import { withOutageErrors } from './outage-errors.ts';
import { hashId, sessionIndex } from './session-index.ts';
import type { ConsumedRefreshTokenVerdict } from './refresh-grace.ts';

/**
 * Where each oidc-provider model lives. Durable records (a user must not be signed out of every app
 * because Redis restarted) go to PostgreSQL; short-lived ones, whose loss only interrupts a login in
 * progress, go to the cache with a TTL.
 */
export const DURABLE_MODELS = new Set(['Grant', 'RefreshToken']);

export { hashId };

export interface ClientSource {
  findMetadata: (clientId: string) => Promise<AdapterPayload | undefined>;
}

export interface AdapterDependencies {
  records: OidcRecordRepository;
  cache: Cache;
  clients: ClientSource;
  revokeGrant: (grantId: string) => Promise<void>;
  /** Told of every refresh token saved (the refresh grace remembers rotations; see refresh-grace.ts). */
  onRefreshTokenSaved: (id: string, payload: AdapterPayload) => Promise<void>;
  /** Decides what a used refresh token, presented again, means (see refresh-grace.ts). */
  judgeConsumedRefreshToken: (payload: Record<string, unknown>, consumedAt: Date) => ConsumedRefreshTokenVerdict;
}

/** The models whose records carry a grantId: what revoking a grant must remove, in both stores. */
const GRANT_BOUND_MODELS = [
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'ClientCredentials',
  'BackchannelAuthenticationRequest',
  'Grant',
];

/** Ends everything an account holds: grants and their tokens in both stores, and its browser sessions. */
export function accountRevoker({
  records,
  cache,
}: Pick<AdapterDependencies, 'records' | 'cache'>): (accountId: string) => Promise<number> {
  const revokeGrant = grantRevoker({ records, cache });
  return async (accountId) => {
    const grantIds = await records.revokeByAccountId(accountId);
    await Promise.all(grantIds.map(revokeGrant));
    await sessionIndex(cache).endAll(accountId);
    return grantIds.length;
  };
}

/** Removes a grant and every token issued from it, wherever each lives (a Grant row carries its own id as grantId). */
export function grantRevoker({
  records,
  cache,
}: Pick<AdapterDependencies, 'records' | 'cache'>): (grantId: string) => Promise<void> {
  return async (grantId) => {
    await Promise.all(
      GRANT_BOUND_MODELS.map((kind) =>
        (DURABLE_MODELS.has(kind) ? new DurableAdapter(kind, records) : new CacheAdapter(kind, cache)).revokeByGrantId(
          grantId,
        ),
      ),
    );
  };
}

const alreadyUsed = () => new errors.InvalidGrant('grant request is invalid (already used)');

function expiryOf(expiresIn: number | undefined): Date | null {
  return expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
}

type DurableHooks = Partial<
  Pick<AdapterDependencies, 'onRefreshTokenSaved' | 'revokeGrant' | 'judgeConsumedRefreshToken'>
>;

class DurableAdapter implements Adapter {
  readonly #kind: string;
  readonly #records: OidcRecordRepository;
  readonly #hooks: DurableHooks;

  constructor(kind: string, records: OidcRecordRepository, hooks: DurableHooks = {}) {
    this.#kind = kind;
    this.#records = records;
    this.#hooks = hooks;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await this.#records.upsert(this.#kind, hashId(id), payload, expiryOf(expiresIn));
    if (this.#kind === 'RefreshToken') await this.#hooks.onRefreshTokenSaved?.(id, payload);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const record = await this.#records.find(this.#kind, hashId(id));
    if (!record) return undefined;
    let consumedAt = record.consumedAt;
    if (this.#kind === 'RefreshToken' && consumedAt && this.#hooks.judgeConsumedRefreshToken) {
      const verdict = this.#hooks.judgeConsumedRefreshToken(record.payload, consumedAt);
      if (verdict === 'race') consumedAt = null;
      if (verdict === 'reuse-by-other-client' && typeof record.payload.grantId === 'string')
        await this.#hooks.revokeGrant?.(record.payload.grantId);
    }
    return { ...record.payload, ...(consumedAt ? { consumed: Math.floor(consumedAt.getTime() / 1000) } : {}) };
  }

  async consume(id: string): Promise<void> {
    if (!(await this.#records.consume(this.#kind, hashId(id)))) throw alreadyUsed();
  }

  async destroy(id: string): Promise<void> {
    await this.#records.destroy(this.#kind, hashId(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#records.revokeByGrantId(this.#kind, grantId);
  }

  findByUid(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  findByUserCode(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}

/**
 * Short-lived models in the cache: `oidc:<Model>:<hash>` holds the payload, a sibling `:consumed` key
 * is set only if absent (atomic on Redis and in-process alike), and sets index records by grant, uid
 * and user code.
 */
class CacheAdapter implements Adapter {
  readonly #kind: string;
  readonly #cache: Cache;

  constructor(kind: string, cache: Cache) {
    this.#kind = kind;
    this.#cache = cache;
  }

  #key(hash: string): string {
    return `oidc:${this.#kind}:${hash}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const hash = hashId(id);
    const ttl = expiresIn ?? 3_600;
    await this.#cache.set(this.#key(hash), JSON.stringify(payload), ttl);
    const writes: Array<Promise<void>> = [];
    if (payload.grantId) writes.push(this.#cache.addToSet(`oidc:grant:${this.#kind}:${payload.grantId}`, hash, ttl));
    if (payload.uid) writes.push(this.#cache.set(`oidc:${this.#kind}:uid:${payload.uid}`, hash, ttl));
    if (payload.userCode) writes.push(this.#cache.set(`oidc:${this.#kind}:userCode:${payload.userCode}`, hash, ttl));
    // Sessions are indexed by account, so disabling a user can end every browser session at once.
    if (this.#kind === 'Session' && payload.accountId)
      writes.push(sessionIndex(this.#cache).recordSaved(hash, payload.accountId, ttl, currentBrowser()?.userAgent));
    await Promise.all(writes);
  }

  async #findByHash(hash: string): Promise<AdapterPayload | undefined> {
    const [payload, consumed] = await Promise.all([
      this.#cache.get(this.#key(hash)),
      this.#cache.get(`${this.#key(hash)}:consumed`),
    ]);
    if (payload === null) return undefined;
    const parsed = JSON.parse(payload) as AdapterPayload;
    return consumed === null ? parsed : { ...parsed, consumed: Number(consumed) };
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.#findByHash(hashId(id));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const hash = await this.#cache.get(`oidc:${this.#kind}:uid:${uid}`);
    return hash === null ? undefined : this.#findByHash(hash);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const hash = await this.#cache.get(`oidc:${this.#kind}:userCode:${userCode}`);
    return hash === null ? undefined : this.#findByHash(hash);
  }

  async consume(id: string): Promise<void> {
    const key = `${this.#key(hashId(id))}:consumed`;
    const remaining = (await this.#cache.ttl(this.#key(hashId(id)))) ?? 3_600;
    if (!(await this.#cache.setIfAbsent(key, String(Math.floor(Date.now() / 1000)), Math.max(1, remaining))))
      throw alreadyUsed();
  }

  // The `:consumed` marker outlives the record it marks (it expires with it): deleting it would let a
  // request that read the record just before the delete consume it a second time.
  async destroy(id: string): Promise<void> {
    await this.#cache.delete(this.#key(hashId(id)));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const index = `oidc:grant:${this.#kind}:${grantId}`;
    const hashes = await this.#cache.setMembers(index);
    await this.#cache.delete(index, ...hashes.map((hash) => this.#key(hash)));
  }
}

/** Clients live in our own table, managed by `latchkey client ...`; oidc-provider only reads them. */
class ClientAdapter implements Adapter {
  readonly #clients: ClientSource;

  constructor(clients: ClientSource) {
    this.#clients = clients;
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.#clients.findMetadata(id);
  }

  upsert(): Promise<void> {
    return Promise.reject(new Error('clients are managed with `latchkey client`, not through the provider'));
  }

  destroy(): Promise<void> {
    return this.upsert();
  }
  consume(): Promise<void> {
    return this.upsert();
  }
  revokeByGrantId(): Promise<void> {
    return Promise.resolve();
  }
  findByUid(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  findByUserCode(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}

export function adapterFactory({
  records,
  cache,
  clients,
  onRefreshTokenSaved,
  revokeGrant,
  judgeConsumedRefreshToken,
}: AdapterDependencies): (name: string) => Adapter {
  const adapters = new Map<string, Adapter>();
  return (name) => {
    let adapter = adapters.get(name);
    if (!adapter) {
      adapter = withOutageErrors(
        name === 'Client'
          ? new ClientAdapter(clients)
          : DURABLE_MODELS.has(name)
            ? new DurableAdapter(name, records, { onRefreshTokenSaved, revokeGrant, judgeConsumedRefreshToken })
            : new CacheAdapter(name, cache),
      );
      adapters.set(name, adapter);
    }
    return adapter;
  };
}
