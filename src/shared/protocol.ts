/**
 * The words Latchkey's processes and its clients must agree on, in one place: the OpenID scopes the
 * issuer offers, the grant types by their registered names, and what the demo clients ask for and
 * their ids. Imported by the issuer, the task API, the browser app, taskctl and the worker; it
 * imports nothing, so a client bundles it without pulling in any server code.
 */

/** The scopes that belong to OpenID Connect itself; each releases claims Latchkey keeps (Core 5.4). */
export const OIDC_SCOPES = ['openid', 'offline_access', 'email', 'profile'] as const;

export const GRANT_TYPES = {
  authorizationCode: 'authorization_code',
  refreshToken: 'refresh_token',
  clientCredentials: 'client_credentials',
  /** RFC 8628. */
  deviceCode: 'urn:ietf:params:oauth:grant-type:device_code',
  /** RFC 8693. */
  tokenExchange: 'urn:ietf:params:oauth:grant-type:token-exchange',
} as const;

/** The token types the token-exchange grant knows (RFC 8693 §3, and ours for personal access tokens). */
export const TOKEN_TYPES = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  personalAccessToken: 'urn:latchkey:params:oauth:token-type:personal_access_token',
} as const;

/**
 * What the demo's person-facing clients ask for: an ID token, email, a refresh token, and their
 * tasks, written as any client of the task API writes the scopes it asks for.
 */
export const DEMO_USER_SCOPE = 'openid email offline_access tasks:read tasks:write';

/** What the demo worker asks for: queued tasks to work on. */
export const DEMO_WORKER_SCOPE = 'tasks:work';

/** Fixed ids, so the demo browser app, taskctl and the worker find their clients with no set-up. */
export const DEMO_CLIENT_IDS = {
  spa: 'latchkey-demo-spa',
  cli: 'latchkey-demo-cli',
  worker: 'latchkey-demo-worker',
} as const;

/** The file in the data folder where `npm start` keeps the demo worker's generated secret (mode 0600). */
export const DEMO_WORKER_SECRET_FILE = 'demo-worker.secret';
