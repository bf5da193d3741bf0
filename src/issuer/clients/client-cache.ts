import { ttlLookup } from '../../shared/cache/ttl-lookup.ts';
import type { ClientSource } from '../oidc/adapter.ts';

/** Client metadata, cached in the process for a few seconds (see ttlLookup): every token request looks its client up. */
export function cachedClientSource(source: ClientSource, ttlSeconds: number): ClientSource {
  return { findMetadata: ttlLookup((clientId) => source.findMetadata(clientId), ttlSeconds) };
}
