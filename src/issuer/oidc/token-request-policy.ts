import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { IncomingMessage, type ServerResponse } from 'node:http';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { Cache } from '../../shared/cache/cache.ts';
import { hashId, type ConsumedRefreshTokenVerdict } from './adapter.ts';

/**
 * Policies oidc-provider leaves to the application, applied to a token request before the provider
 * sees it:
 * - refresh-token grace: a replay of the token rotated moments ago, by the same client, is answered
 *   with the successor already issued (rewritten into the request, rotation skipped) instead of
 *   revoking the grant; a replay by another client revokes it.
 * - device-grant polling: faster than the interval gets `slow_down`, and 5 s more from then on (RFC 8628).
 */

const GRACE_REPLAY = Symbol('latchkey.refreshGraceReplay');
const BODY_LIMIT = 56 * 1024;
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export function isGraceReplay(ctx: KoaContextWithOIDC): boolean {
  return (ctx.req as unknown as Record<symbol, unknown>)[GRACE_REPLAY] === true;
}

/** The successor is stored encrypted under a key only the holder of the old token can derive. */
function graceKey(oldToken: string): Buffer {
  return createHash('sha256').update(`latchkey refresh grace\0${oldToken}`).digest();
}

function sealSuccessor(oldToken: string, successor: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', graceKey(oldToken), iv);
  const sealed = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

function openSuccessor(oldToken: string, sealed: string): string {
  const bytes = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', graceKey(oldToken), bytes.subarray(0, 12));
  decipher.setAuthTag(bytes.subarray(12, 28));
  return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
}

interface GraceRecord {
  clientId: string;
  grantId: string;
  successor: string;
}

const safeDecode = (value: string) => {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
};

/** The client a token request names, before it is authenticated (the provider authenticates it after). */
function presentedClientId(req: IncomingMessage, form: URLSearchParams): string | undefined {
  const authorization = req.headers.authorization;
  if (authorization?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    // A malformed escape names no client; the provider refuses the request on its own terms.
    if (separator > 0) return safeDecode(decoded.slice(0, separator));
  }
  const assertion = form.get('client_assertion');
  if (assertion) {
    try {
      const claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
        sub?: unknown;
      };
      if (typeof claims.sub === 'string') return claims.sub;
    } catch {
      return form.get('client_id') ?? undefined;
    }
  }
  return form.get('client_id') ?? undefined;
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The same request with a new body, as a real IncomingMessage so every consumer reads it unchanged. */
function replayRequest(original: IncomingMessage, body: Buffer): IncomingMessage {
  const replay = new IncomingMessage(original.socket);
  replay.method = original.method;
  replay.url = original.url;
  replay.httpVersion = original.httpVersion;
  replay.httpVersionMajor = original.httpVersionMajor;
  replay.httpVersionMinor = original.httpVersionMinor;
  replay.headers = { ...original.headers, 'content-length': String(body.length) };
  replay.rawHeaders = original.rawHeaders;
  replay.push(body);
  replay.push(null);
  // Normally set by the HTTP parser; without it, finishing the stream counts as an abort and closes the socket.
  replay.complete = true;
  return replay;
}

function oauthError(res: ServerResponse, status: number, error: string, description: string): void {
  const body = JSON.stringify({ error, error_description: description });
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export interface TokenRequestPolicyOptions {
  cache: Cache;
  graceSeconds: number;
  devicePollIntervalSeconds: number;
  /** Ends a grant everywhere (both stores); called when a refresh token is replayed by another client. */
  revokeGrant: (grantId: string) => Promise<void>;
  /** Told when a used refresh token comes back (for the security log). */
  onReuseDetected?: (payload: Record<string, unknown>, presentedBy: string | undefined) => void;
}

export function tokenRequestPolicy({
  cache,
  graceSeconds,
  devicePollIntervalSeconds,
  revokeGrant,
  onReuseDetected,
}: TokenRequestPolicyOptions) {
  const graceCacheKey = (token: string) => `oidc:refresh-grace:${hashId(token)}`;

  return {
    /**
     * A used refresh token was found. Presented by another client: reuse, revoke. By its own client
     * within the grace window and not as a rewritten grace replay: a parallel request that lost the race
     * (the winner has not yet recorded its successor); refuse it without killing the family.
     */
    judgeConsumedRefreshToken: (payload: Record<string, unknown>, consumedAt: Date): ConsumedRefreshTokenVerdict => {
      const ctx = Provider.ctx;
      const presenter = ctx?.oidc.client?.clientId;
      const recent = Date.now() - consumedAt.getTime() < graceSeconds * 1000;
      const verdict: ConsumedRefreshTokenVerdict =
        presenter && presenter !== payload.clientId
          ? 'reuse-by-other-client'
          : recent && ctx && !isGraceReplay(ctx)
            ? 'race'
            : 'reuse';
      if (verdict !== 'race') onReuseDetected?.(payload, presenter);
      return verdict;
    },

    /** Called when a refresh token is rotated: remembers, for the grace window, which successor it got. */
    recordRotation: async (oldToken: string, successor: string, clientId: string, grantId: string): Promise<void> => {
      if (graceSeconds <= 0) return;
      const record: GraceRecord = { clientId, grantId, successor: sealSuccessor(oldToken, successor) };
      await cache.set(graceCacheKey(oldToken), JSON.stringify(record), graceSeconds);
    },

    /**
     * Applies the policies to POST /token. Returns the request to hand to the provider (possibly
     * rewritten), or undefined when the response has already been sent.
     */
    apply: async (req: IncomingMessage, res: ServerResponse): Promise<IncomingMessage | undefined> => {
      const body = await readBody(req);
      if (body === undefined) {
        oauthError(res, 413, 'invalid_request', 'the request body is too large');
        return undefined;
      }
      const form = new URLSearchParams(body.toString('utf8'));
      const grantType = form.get('grant_type');

      if (grantType === 'refresh_token') {
        const presented = form.get('refresh_token');
        const stored = presented ? await cache.get(graceCacheKey(presented)) : null;
        if (presented && stored) {
          const record = JSON.parse(stored) as GraceRecord;
          if (presentedClientId(req, form) === record.clientId) {
            form.set('refresh_token', openSuccessor(presented, record.successor));
            const replay = replayRequest(req, Buffer.from(form.toString()));
            (replay as unknown as Record<symbol, unknown>)[GRACE_REPLAY] = true;
            return replay;
          }
          await revokeGrant(record.grantId);
        }
      }

      if (grantType === DEVICE_CODE_GRANT) {
        const deviceCode = form.get('device_code');
        if (deviceCode) {
          const key = `oidc:device-poll:${hashId(deviceCode)}`;
          const previous = await cache.get(key);
          const state = previous
            ? (JSON.parse(previous) as { last: number; interval: number })
            : { last: 0, interval: devicePollIntervalSeconds };
          const nowMs = Date.now();
          if (nowMs - state.last < state.interval * 1000) {
            state.interval += 5;
            state.last = nowMs;
            await cache.set(key, JSON.stringify(state), 900);
            oauthError(
              res,
              400,
              'slow_down',
              `polling too fast; wait at least ${state.interval} seconds between requests`,
            );
            return undefined;
          }
          await cache.set(key, JSON.stringify({ last: nowMs, interval: state.interval }), 900);
        }
      }

      return replayRequest(req, body);
    },
  };
}

export type TokenRequestPolicy = ReturnType<typeof tokenRequestPolicy>;
