import { createHash } from 'node:crypto';
import { sealer } from '../../shared/crypto/sealing.ts';
import Provider, { type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import type { Cache } from '../../shared/cache/cache.ts';
import { hashId } from './session-index.ts';
import { hasMark, presentedClientId, type TokenRequest } from './token-request.ts';

/**
 * Refresh-token rotation with a grace window, which oidc-provider leaves to the application. The
 * sequence, for a refresh token R rotated to S:
 * 1. the adapter saves S while the provider is rotating R (`recordIfRotation`): we keep, for the
 *    window, "R became S for client C in grant G", with S sealed under a key only a holder of R can
 *    derive;
 * 2. R comes back (a client retried after losing the response). By C within the window: the token
 *    request is rewritten to present S instead (`applyToTokenRequest`), and marked as a grace
 *    replay, so the client gets a fresh pair from S. By another client: the grant is revoked;
 * 3. the adapter finds R used (`judgeConsumed`): another client presenting it is reuse (revoke);
 *    the same client within the window, in a request that is not a grace replay, lost a race with
 *    the rotation still finishing (refuse, keep the family); anything else is reuse, and
 *    oidc-provider revokes the grant.
 */

/**
 * - `reuse`: show it as used; oidc-provider revokes the grant.
 * - `reuse-by-other-client`: revoke here (oidc-provider would only say "client mismatch").
 * - `race`: used a moment ago by this same client, in a request still finishing; hide the mark so the
 *   atomic consume refuses this request without revoking the family.
 */
export type ConsumedRefreshTokenVerdict = 'reuse' | 'reuse-by-other-client' | 'race';

interface GraceRecord {
  clientId: string;
  grantId: string;
  successor: string;
}

const GRACE_REPLAY = Symbol('latchkey.refreshGraceReplay');

/**
 * What a used refresh token presented again means. Another client presenting it: reuse by another
 * client. Its own client within the window, in a request that is not a grace replay: a race with
 * the rotation still finishing. Anything else: reuse.
 */
export function consumedRefreshTokenVerdict(facts: {
  owner: unknown;
  presenter: string | undefined;
  usedMsAgo: number;
  graceSeconds: number;
  inRequest: boolean;
  graceReplay: boolean;
}): ConsumedRefreshTokenVerdict {
  if (facts.presenter && facts.presenter !== facts.owner) return 'reuse-by-other-client';
  if (facts.usedMsAgo < facts.graceSeconds * 1000 && facts.inRequest && !facts.graceReplay) return 'race';
  return 'reuse';
}

/** oidc-provider's `rotateRefreshToken`: a grace replay presents the successor, which is not rotated again. */
export const shouldRotateRefreshToken = (ctx: KoaContextWithOIDC) => !hasMark(ctx.req, GRACE_REPLAY);

/** The successor is stored encrypted under a key only the holder of the old token can derive. */
const graceKey = (oldToken: string) => createHash('sha256').update(`latchkey refresh grace\0${oldToken}`).digest();

// Sealed with the project's AES-256-GCM sealer; no associated data (the key is already this token's own).
const sealSuccessor = (oldToken: string, successor: string) => sealer(graceKey(oldToken)).seal(successor, '');
const openSuccessor = (oldToken: string, sealed: string) => sealer(graceKey(oldToken)).open(sealed, '');

export interface RefreshGraceOptions {
  cache: Cache;
  graceSeconds: number;
  /** Ends a grant everywhere (both stores). */
  revokeGrant: (grantId: string) => Promise<void>;
  /** Told when a used refresh token comes back (for the security log). */
  onReuseDetected?: (payload: Record<string, unknown>, presentedBy: string | undefined) => void;
  /** A predecessor presented again within the window, answered as a replay of its rotation (metrics). */
  onGraceReplay?: () => void;
}

export function refreshGrace({
  cache,
  graceSeconds,
  revokeGrant,
  onReuseDetected,
  onGraceReplay,
}: RefreshGraceOptions) {
  const recordKey = (token: string) => `oidc:refresh-grace:${hashId(token)}`;

  /** "`oldToken` became `successor` for this client and grant", for the window; the successor sealed. */
  async function remember(oldToken: string, successor: string, clientId: string, grantId: string): Promise<void> {
    if (graceSeconds <= 0) return;
    const record: GraceRecord = { clientId, grantId, successor: sealSuccessor(oldToken, successor) };
    await cache.set(recordKey(oldToken), JSON.stringify(record), graceSeconds);
  }

  return {
    remember,

    /** Step 1, from the adapter's save of a refresh token: when it is a rotation's successor, remember it. */
    recordIfRotation: async (successor: string, payload: AdapterPayload): Promise<void> => {
      const rotated = Provider.ctx?.oidc.entities.RotatedRefreshToken as { jti?: string } | undefined;
      if (rotated?.jti && payload.clientId && payload.grantId)
        await remember(rotated.jti, successor, payload.clientId, payload.grantId);
    },

    /** Step 2, before the provider sees a refresh_token grant. */
    applyToTokenRequest: async (request: TokenRequest): Promise<void> => {
      const presented = request.form.get('grant_type') === 'refresh_token' ? request.form.get('refresh_token') : null;
      const stored = presented ? await cache.get(recordKey(presented)) : null;
      if (!presented || !stored) return;
      const record = JSON.parse(stored) as GraceRecord;
      if (presentedClientId(request) !== record.clientId) return revokeGrant(record.grantId);
      request.form.set('refresh_token', openSuccessor(presented, record.successor));
      request.marks.add(GRACE_REPLAY);
      onGraceReplay?.();
    },

    /** Step 3, from the adapter's find of a refresh token already used. */
    judgeConsumed: (payload: Record<string, unknown>, consumedAt: Date): ConsumedRefreshTokenVerdict => {
      const ctx = Provider.ctx;
      const presenter = ctx?.oidc.client?.clientId;
      const verdict = consumedRefreshTokenVerdict({
        owner: payload.clientId,
        presenter,
        usedMsAgo: Date.now() - consumedAt.getTime(),
        graceSeconds,
        // Without a request in hand (a find outside a token request) nothing is racing.
        inRequest: ctx !== undefined,
        graceReplay: hasMark(ctx?.req, GRACE_REPLAY),
      });
      if (verdict !== 'race') onReuseDetected?.(payload, presenter);
      return verdict;
    },
  };
}

export type RefreshGrace = ReturnType<typeof refreshGrace>;
