/**
 * On one machine a server's public URL is its port on localhost: moving a port (the default one
 * taken by another program) moves the URL with it, in the servers and in the demo clients that
 * find them, unless the URL is set. Without this, `ISSUER_PORT=3100` alone left the issuer
 * announcing itself at :3000.
 */
const PAIRS = [
  ['ISSUER_URL', 'ISSUER_PORT', 3000],
  ['TASK_API_URL', 'TASK_API_PORT', 4000],
  ['SPA_URL', 'SPA_PORT', 5173],
] as const;

export function withPortFollowingUrls<Env extends Record<string, string | undefined>>(env: Env): Env {
  const filled: Record<string, string | undefined> = { ...env };
  for (const [url, port, fallback] of PAIRS) {
    const given = env[port];
    if (env[url] === undefined || env[url] === '') filled[url] = `http://localhost:${isPort(given) ? given : fallback}`;
  }
  return filled as Env;
}

/** Only a usable port is copied into a URL; a bad one is reported once, under its own name. */
const isPort = (value: string | undefined): value is string =>
  value !== undefined && /^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65_535;
