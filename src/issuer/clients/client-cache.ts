import type { AdapterPayload } from 'oidc-provider';
import type { ClientSource } from '../oidc/adapter.ts';

const MAX_ENTRIES = 10_000;

/**
 * Client metadata, cached in the process for a few seconds: every token request looks its client up,
 * and the database round trip was the largest cost of a client-credentials grant. The price is
 * that an administrator's change (a rotated secret, a deleted client) reaches every instance within
 * `ttlSeconds`, not at once. Unknown ids are not cached, so a flood of made-up ids cannot fill it;
 * concurrent lookups of one id share a single query.
 */
export function cachedClientSource(source: ClientSource, ttlSeconds: number): ClientSource {
  if (ttlSeconds <= 0) return source;
  const entries = new Map<string, { value: Promise<AdapterPayload | undefined>; expiresAt: number }>();
  return {
    findMetadata(clientId) {
      const now = Date.now();
      const cached = entries.get(clientId);
      if (cached && cached.expiresAt > now) return cached.value;
      const value = source.findMetadata(clientId);
      entries.set(clientId, { value, expiresAt: now + ttlSeconds * 1000 });
      value.then(
        (found) => {
          if (!found) entries.delete(clientId);
        },
        () => entries.delete(clientId),
      );
      if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      return value;
    },
  };
}
