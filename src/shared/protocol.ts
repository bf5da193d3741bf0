/**
 * The words Latchkey's processes and its clients must agree on, in one place: the OpenID scopes the
 * issuer offers, the grant types by their registered names, the task API's scopes, and the demo
 * clients' ids. Imported by the issuer, the task API, the browser app, taskctl and the worker; it
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
} as const;

/** The task API's scopes: a person's reach (`read`, `write`, `admin`) and a service's (`work`). */
export const TASK_SCOPES = {
  read: 'tasks:read',
  write: 'tasks:write',
  admin: 'tasks:admin',
  work: 'tasks:work',
} as const;

/** The task API's scopes as registered at the issuer: each with the sentence its consent page shows. */
export const TASK_API_SCOPE_DESCRIPTIONS = [
  { name: TASK_SCOPES.read, description: 'See your tasks' },
  { name: TASK_SCOPES.write, description: 'Create, change and complete your tasks' },
  { name: TASK_SCOPES.admin, description: 'Manage everyone’s tasks (administrators only)' },
  { name: TASK_SCOPES.work, description: 'Work on queued tasks as a service' },
];

/** What the demo's person-facing clients ask for: an ID token, email, a refresh token, and their tasks. */
export const DEMO_USER_SCOPE = ['openid', 'email', 'offline_access', TASK_SCOPES.read, TASK_SCOPES.write].join(' ');

/** Fixed ids, so the demo browser app, taskctl and the worker find their clients with no set-up. */
export const DEMO_CLIENT_IDS = {
  spa: 'latchkey-demo-spa',
  cli: 'latchkey-demo-cli',
  worker: 'latchkey-demo-worker',
} as const;

/** The file in the data folder where `npm start` keeps the demo worker's generated secret (mode 0600). */
export const DEMO_WORKER_SECRET_FILE = 'demo-worker.secret';
