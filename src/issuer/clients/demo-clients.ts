import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../shared/logging/logger.ts';
import {
  DEMO_CLIENT_IDS,
  DEMO_WORKER_SECRET_FILE,
  TASK_API_SCOPE_DESCRIPTIONS,
  TASK_SCOPES,
} from '../../shared/protocol.ts';
import type { ApiService } from '../apis/api-service.ts';
import type { clientService } from './client-service.ts';

export { DEMO_CLIENT_IDS };

/** Where the demo worker's generated secret is kept (mode 0600): there is no default secret anywhere. */
export const demoWorkerSecretPath = (dataDir: string) => path.join(dataDir, DEMO_WORKER_SECRET_FILE);

/**
 * Creates, once, the three clients the demo needs: the browser app (first-party, PKCE, its own
 * origin as redirect and logout URI), the command-line tool (device grant) and the worker (client
 * credentials, a generated secret written to the data folder).
 */
export async function ensureDemoClients(
  clients: ReturnType<typeof clientService>,
  apis: ApiService,
  settings: { spaUrl: string; dataDir: string; taskApiUrl: string },
  log: Logger,
): Promise<void> {
  const created: string[] = [];
  // The demo's API, registered like any other (an operator would run `latchkey api create`).
  if (!(await apis.find(settings.taskApiUrl))) {
    // Instances starting together may race to register it: one wins, the others find it.
    await apis
      .create({ identifier: settings.taskApiUrl, name: 'Task API', scopes: TASK_API_SCOPE_DESCRIPTIONS })
      .then(() => log.info({ api: settings.taskApiUrl }, 'demo API registered'))
      .catch(async (error: unknown) => {
        if (!(await apis.find(settings.taskApiUrl))) throw error;
      });
  }
  const resources = [settings.taskApiUrl];
  const personScopes = ['openid', 'email', 'profile', 'offline_access', TASK_SCOPES.read, TASK_SCOPES.write];
  if (!(await clients.find(DEMO_CLIENT_IDS.spa))) {
    await clients.create({
      id: DEMO_CLIENT_IDS.spa,
      name: 'Latchkey Tasks (demo web app)',
      type: 'spa',
      redirectUris: [`${settings.spaUrl}/`],
      postLogoutRedirectUris: [`${settings.spaUrl}/`],
      firstParty: true,
      resources,
      scopes: personScopes,
    });
    created.push(DEMO_CLIENT_IDS.spa);
  }
  if (!(await clients.find(DEMO_CLIENT_IDS.cli))) {
    await clients.create({
      id: DEMO_CLIENT_IDS.cli,
      name: 'taskctl (demo command line)',
      type: 'cli',
      firstParty: true,
      resources,
      scopes: personScopes,
    });
    created.push(DEMO_CLIENT_IDS.cli);
  }
  const secretFile = demoWorkerSecretPath(settings.dataDir);
  let secret: string | undefined;
  if (!(await clients.find(DEMO_CLIENT_IDS.worker))) {
    ({ secret } = await clients.create({
      id: DEMO_CLIENT_IDS.worker,
      name: 'Task worker (demo service)',
      type: 'service',
      resources,
      scopes: [TASK_SCOPES.work],
    }));
    created.push(DEMO_CLIENT_IDS.worker);
  } else if (!existsSync(secretFile)) {
    secret = await clients.rotateSecret(DEMO_CLIENT_IDS.worker);
  }
  if (secret) {
    await mkdir(settings.dataDir, { recursive: true });
    await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
  }
  if (created.length) log.info({ clients: created, workerSecretFile: secretFile }, 'demo clients created');
}
