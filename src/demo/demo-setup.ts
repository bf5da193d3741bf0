import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../shared/logging/logger.ts';
import { DEMO_CLIENT_IDS, DEMO_WORKER_SECRET_FILE, GRANT_TYPES, TOKEN_TYPES } from '../shared/protocol.ts';
import { TASK_API_SCOPE_DESCRIPTIONS, TASK_SCOPES } from '../resource-server/tasks/task-scopes.ts';
import type { ApiService } from '../issuer/apis/api-service.ts';
import type { clientService } from '../issuer/clients/client-service.ts';
import type { RoleService } from '../issuer/roles/role-service.ts';

export { DEMO_CLIENT_IDS };

/** Where the demo worker's generated secret is kept (mode 0600): there is no default secret anywhere. */
export const demoWorkerSecretPath = (dataDir: string) => path.join(dataDir, DEMO_WORKER_SECRET_FILE);

/** The role the demo worker holds: what a service needs to work on the task API's queue. */
export const TASK_WORKER_ROLE = 'task-worker';

/**
 * The task API, registered as an operator would (`latchkey api create`, `latchkey role grant`): its
 * scopes with their consent sentences, and the roles that hold them. Everyone with an account (the
 * default `user` role) reads and writes their tasks; `admin` also manages everyone's; the
 * `task-worker` role works the queue. Grants are made again at every start (they are idempotent),
 * so the demo keeps working however it was left.
 */
export async function registerTaskApi(apis: ApiService, roles: RoleService, identifier: string): Promise<boolean> {
  const registered = await apis.ensure({ identifier, name: 'Task API', scopes: TASK_API_SCOPE_DESCRIPTIONS });
  const holders = [
    {
      role: 'user',
      description: 'Everyone with an account',
      isDefault: true,
      scopes: [TASK_SCOPES.read, TASK_SCOPES.write],
    },
    {
      role: 'admin',
      description: 'Administrators',
      isDefault: false,
      scopes: [TASK_SCOPES.read, TASK_SCOPES.write, TASK_SCOPES.admin],
    },
    {
      role: TASK_WORKER_ROLE,
      description: 'Services that work on queued tasks',
      isDefault: false,
      scopes: [TASK_SCOPES.work],
    },
  ];
  for (const holder of holders) {
    await roles.ensure({ name: holder.role, description: holder.description, isDefault: holder.isDefault });
    await roles.grant(holder.role, identifier, holder.scopes);
  }
  return registered;
}

/**
 * Creates the three clients the demo needs, and at every start brings their addresses to the
 * current configuration: the browser app (first-party, PKCE, its own
 * origin as redirect and logout URI), the command-line tool (device grant) and the worker (client
 * credentials, a generated secret written to the data folder).
 */
export async function ensureDemoClients(
  { clients, apis, roles }: { clients: ReturnType<typeof clientService>; apis: ApiService; roles: RoleService },
  settings: { spaUrl: string; dataDir: string; taskApiUrl: string },
  log: Logger,
): Promise<void> {
  if (await registerTaskApi(apis, roles, settings.taskApiUrl))
    log.info({ api: settings.taskApiUrl }, 'demo API registered');
  const resources = [settings.taskApiUrl];
  const personScopes = ['openid', 'email', 'profile', 'offline_access', TASK_SCOPES.read, TASK_SCOPES.write];
  const wanted = [
    {
      id: DEMO_CLIENT_IDS.spa,
      name: 'Latchkey Tasks (demo web app)',
      type: 'spa' as const,
      redirectUris: [`${settings.spaUrl}/`],
      postLogoutRedirectUris: [`${settings.spaUrl}/`],
      // Its home page: where sign-up and password reset lead back to.
      clientUri: `${settings.spaUrl}/`,
      firstParty: true,
      resources,
      scopes: personScopes,
    },
    {
      id: DEMO_CLIENT_IDS.cli,
      name: 'taskctl (demo command line)',
      type: 'cli' as const,
      firstParty: true,
      resources,
      scopes: personScopes,
      // `TASKCTL_TOKEN=lk_pat_…` trades a person's key for task API tokens (RFC 8693).
      grantTypes: [GRANT_TYPES.deviceCode, 'refresh_token', GRANT_TYPES.tokenExchange],
      tokenExchangeSubjectTypes: [TOKEN_TYPES.personalAccessToken],
    },
    {
      id: DEMO_CLIENT_IDS.worker,
      name: 'Task worker (demo service)',
      type: 'service' as const,
      resources,
      scopes: [TASK_SCOPES.work],
    },
  ];
  const created: string[] = [];
  const followed: string[] = [];
  let secret: string | undefined;
  for (const client of wanted) {
    const existing = await clients.find(client.id);
    if (!existing) {
      const made = await clients.create(client);
      if (client.id === DEMO_CLIENT_IDS.worker) secret = made.secret;
      created.push(client.id);
      continue;
    }
    // Moved ports (SPA_URL, TASK_API_URL) move the demo with them: a first start's addresses
    // must not leave the app failing with "redirect_uri did not match".
    const addresses = {
      redirectUris: client.redirectUris ?? [],
      postLogoutRedirectUris: client.postLogoutRedirectUris ?? [],
      clientUri: client.clientUri ?? null,
      resources,
    };
    const same = (a: string[], b: string[]) => a.length === b.length && a.every((value, index) => value === b[index]);
    if (
      !same(existing.redirectUris, addresses.redirectUris) ||
      !same(existing.postLogoutRedirectUris, addresses.postLogoutRedirectUris) ||
      existing.clientUri !== addresses.clientUri ||
      !same(existing.resources, resources) ||
      ('grantTypes' in client && !same(existing.grantTypes, client.grantTypes ?? []))
    ) {
      const grants =
        'grantTypes' in client
          ? { grantTypes: client.grantTypes, tokenExchangeSubjectTypes: client.tokenExchangeSubjectTypes }
          : {};
      await clients.update(client.id, { ...addresses, ...grants, defaultResource: null, scopes: client.scopes });
      followed.push(client.id);
    }
  }
  const secretFile = demoWorkerSecretPath(settings.dataDir);
  if (!secret && !existsSync(secretFile)) secret = await clients.rotateSecret(DEMO_CLIENT_IDS.worker);
  await roles.assign({ clientId: DEMO_CLIENT_IDS.worker }, [TASK_WORKER_ROLE]);
  if (secret) {
    await mkdir(settings.dataDir, { recursive: true });
    await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
  }
  if (created.length) log.info({ clients: created, workerSecretFile: secretFile }, 'demo clients created');
  if (followed.length)
    log.info(
      { clients: followed, spaUrl: settings.spaUrl, api: settings.taskApiUrl },
      'demo clients follow the current addresses',
    );
}
