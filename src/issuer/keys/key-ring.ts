import { generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Config } from '../../shared/config/config.ts';
import { sealer, type Sealer } from '../../shared/crypto/sealing.ts';
import { signingKeyRepository, type SigningKeyRepository, type SigningKeyRow } from './signing-key-repository.ts';

type SigningKeyRepositoryDatabase = Parameters<typeof signingKeyRepository>[0];

/** Access tokens are ES256 (small, fast); ID tokens default to RS256, which every client supports. */
export const TOKEN_ALGORITHMS = ['ES256', 'RS256'] as const;
export type TokenAlgorithm = (typeof TOKEN_ALGORITHMS)[number];

export interface KeyTimings {
  /** How long a new key is published before it signs: at least every verifier's JWKS cache lifetime. */
  publishLeadSeconds: number;
  /** How long a retired token key stays published: the longest lifetime of a JWT it signed, plus skew. */
  tokenRetentionSeconds: number;
  /** How long a retired cookie key still verifies: the longest cookie lifetime. */
  cookieRetentionSeconds: number;
}

export interface KeySet {
  /** Private JWKs for oidc-provider: for each algorithm the signing key first, then keys only published. */
  jwks: { keys: JWK[] };
  /** Cookie-signing secrets, the signing one first. */
  cookieKeys: string[];
  /** When the key set changes next by the clock alone (a key activates, retires or is removed). */
  nextTransition: Date | undefined;
  /** Identifies this arrangement: equal fingerprints mean an identical provider configuration. */
  fingerprint: string;
}

function generateTokenKey(alg: TokenAlgorithm): { privateJwk: JsonWebKey; publicJwk: JsonWebKey } {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateJwk: pair.privateKey.export({ format: 'jwk' }), publicJwk: pair.publicKey.export({ format: 'jwk' }) };
}

async function newTokenKey(alg: TokenAlgorithm, activatesAt: Date, encryption: Sealer) {
  const { privateJwk, publicJwk } = generateTokenKey(alg);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    purpose: 'token' as const,
    alg,
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    privateKeyEncrypted: encryption.seal(JSON.stringify(privateJwk), kid),
    activatesAt,
  };
}

function newCookieKey(activatesAt: Date, encryption: Sealer) {
  const kid = `cookie-${randomBytes(9).toString('base64url')}`;
  return {
    kid,
    purpose: 'cookie' as const,
    alg: 'HS256',
    publicJwk: null,
    privateKeyEncrypted: encryption.seal(randomBytes(32).toString('base64url'), kid),
    activatesAt,
  };
}

const isSigning = (key: SigningKeyRow, now: Date) =>
  key.activatesAt <= now && (key.retiresAt === null || key.retiresAt > now);

/** Replaces the signing key of each purpose/algorithm with a new one, published `lead` seconds ahead. */
async function rotateWithin(
  context: { encryption: Sealer; timings: KeyTimings },
  tx: Parameters<Parameters<SigningKeyRepository['withRotationLock']>[0]>[0],
  now: Date,
  leadSeconds: number,
  only?: (row: SigningKeyRow | undefined, alg: string) => boolean,
): Promise<string[]> {
  const live = await tx.live(now);
  const { encryption, timings } = context;
  const created: string[] = [];
  const activatesAt = new Date(now.getTime() + leadSeconds * 1000);
  const slots: Array<{ purpose: 'token' | 'cookie'; alg: string }> = [
    ...TOKEN_ALGORITHMS.map((alg) => ({ purpose: 'token' as const, alg })),
    { purpose: 'cookie', alg: 'HS256' },
  ];
  for (const slot of slots) {
    const current = live.filter(
      (key) => key.purpose === slot.purpose && key.alg === slot.alg && (key.retiresAt === null || key.retiresAt > now),
    );
    const newest = current[0];
    if (only && !only(newest, slot.alg)) continue;
    const key =
      slot.purpose === 'token'
        ? await newTokenKey(slot.alg as TokenAlgorithm, activatesAt, encryption)
        : newCookieKey(activatesAt, encryption);
    await tx.insert(key);
    created.push(key.kid);
    const retention = slot.purpose === 'token' ? timings.tokenRetentionSeconds : timings.cookieRetentionSeconds;
    for (const old of current)
      await tx.retire(old.kid, activatesAt, new Date(activatesAt.getTime() + retention * 1000));
  }
  return created;
}

/** The key set oidc-provider is built with: signing keys first, published-only ones after, cookie keys apart. */
async function loadKeySet(repository: SigningKeyRepository, encryption: Sealer, now: Date): Promise<KeySet> {
  const live = await repository.listLive(now);
  const jwks: JWK[] = [];
  const cookieKeys: string[] = [];
  const transitions: number[] = [];
  // Signing keys first (oidc-provider signs with the first key of an algorithm), then published-only ones.
  const ordered = [...live.filter((key) => isSigning(key, now)), ...live.filter((key) => !isSigning(key, now))];
  for (const key of ordered) {
    for (const moment of [key.activatesAt, key.retiresAt, key.removesAt])
      if (moment && moment > now) transitions.push(moment.getTime());
    let secret: string;
    try {
      secret = encryption.open(key.privateKeyEncrypted, key.kid);
    } catch (error) {
      throw new Error(`cannot decrypt signing key ${key.kid}: KEY_ENCRYPTION_KEY is not the key it was stored with`, {
        cause: error,
      });
    }
    if (key.purpose === 'cookie') cookieKeys.push(secret);
    else jwks.push({ ...(JSON.parse(secret) as JWK), kid: key.kid, alg: key.alg, use: 'sig' });
  }
  const fingerprint = ordered.map((key) => `${key.kid}:${isSigning(key, now) ? 's' : 'p'}`).join(',');
  return {
    jwks: { keys: jwks },
    cookieKeys,
    nextTransition: transitions.length ? new Date(Math.min(...transitions)) : undefined,
    fingerprint,
  };
}

/** Where a key is in its life: published ahead of use, signing, retired (still published), or removed. */
export function keyState(
  key: { activatesAt: Date; retiresAt: Date | null; removesAt: Date | null },
  now: Date,
): 'published' | 'signing' | 'retired' | 'removed' {
  if (key.removesAt && key.removesAt <= now) return 'removed';
  if (key.activatesAt > now) return 'published';
  if (key.retiresAt && key.retiresAt <= now) return 'retired';
  return 'signing';
}

/**
 * The issuer's keys: generated on first start, rotated on a schedule or on command, published in
 * JWKS ahead of use and kept there until every token they signed has expired. The database is the
 * source of truth; each instance rebuilds its key set from it.
 */
export function keyRing(repository: SigningKeyRepository, encryption: Sealer, timings: KeyTimings) {
  return {
    /** Creates the first keys if there are none; they sign at once, since nothing could have cached a JWKS yet. */
    ensureKeys(now = new Date()): Promise<string[]> {
      return repository.withRotationLock((tx) =>
        rotateWithin({ encryption, timings }, tx, now, 0, (newest) => newest === undefined),
      );
    },

    /** A rotation on command: new keys for every algorithm, signing after the publish lead. */
    rotate(now = new Date()): Promise<string[]> {
      return repository.withRotationLock((tx) =>
        rotateWithin({ encryption, timings }, tx, now, timings.publishLeadSeconds),
      );
    },

    /** A scheduled rotation: only where the newest key is older than the interval. */
    rotateIfDue(intervalDays: number, now = new Date()): Promise<string[]> {
      if (intervalDays <= 0) return Promise.resolve([]);
      const dueBefore = now.getTime() - intervalDays * 86_400_000;
      return repository.withRotationLock((tx) =>
        rotateWithin(
          { encryption, timings },
          tx,
          now,
          timings.publishLeadSeconds,
          (newest) => newest !== undefined && newest.createdAt.getTime() <= dueBefore,
        ),
      );
    },

    load: (now = new Date()): Promise<KeySet> => loadKeySet(repository, encryption, now),

    list: () => repository.listAll(),
  };
}

export type KeyRing = ReturnType<typeof keyRing>;

/**
 * The issuer's key ring as configured: retention long enough for the longest-lived JWT a key signs
 * (plus a minute of skew), cookie keys kept for a session's lifetime. The issuer and `latchkey keys`
 * build it the same way, each with the key-encryption key it resolved once.
 */
export function configuredKeyRing(db: SigningKeyRepositoryDatabase, config: Config, kek: Buffer): KeyRing {
  const { ttl, keys } = config.issuer;
  return keyRing(signingKeyRepository(db), sealer(kek), {
    publishLeadSeconds: keys.publishLeadSeconds,
    tokenRetentionSeconds: Math.max(ttl.accessToken, ttl.idToken) + 60,
    cookieRetentionSeconds: ttl.session,
  });
}
