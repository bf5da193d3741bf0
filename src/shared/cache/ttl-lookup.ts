/**
 * A lookup cached in the process for a few seconds: what every token request reads (its client,
 * its API) without a database round trip each time. The price is that an administrator's change
 * reaches every instance within `ttlSeconds`, not at once. Misses are not cached, so a flood of
 * made-up keys cannot fill it; concurrent lookups of one key share a single query; a failed lookup
 * is forgotten at once.
 */
export function ttlLookup<T>(
  find: (key: string) => Promise<T | undefined>,
  ttlSeconds: number,
  maxEntries = 10_000,
): (key: string) => Promise<T | undefined> {
  if (ttlSeconds <= 0) return find;
  const entries = new Map<string, { value: Promise<T | undefined>; expiresAt: number }>();
  return (key) => {
    const now = Date.now();
    const cached = entries.get(key);
    if (cached && cached.expiresAt > now) return cached.value;
    const value = find(key);
    entries.set(key, { value, expiresAt: now + ttlSeconds * 1000 });
    value.then(
      (found) => {
        if (found === undefined) entries.delete(key);
      },
      () => entries.delete(key),
    );
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    return value;
  };
}
