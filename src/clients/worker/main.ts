#!/usr/bin/env node
import { withPortFollowingUrls } from '../../shared/config/port-urls.ts';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DEMO_CLIENT_IDS, DEMO_WORKER_SECRET_FILE } from '../../shared/protocol.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { taskWorker } from './worker.ts';

/**
 * `npm run worker` / `latchkey-worker`. Settings from the environment: ISSUER_URL, TASK_API_URL,
 * WORKER_CLIENT_ID, WORKER_CLIENT_SECRET (or WORKER_CLIENT_SECRET_FILE), WORKER_IDLE_MAX_MS. With
 * none of the client settings, it uses the demo worker client `npm start` created.
 */
const env = z
  .object({
    ISSUER_URL: z.url().default('http://localhost:3000'),
    TASK_API_URL: z.url().default('http://localhost:4000'),
    WORKER_CLIENT_ID: z.string().min(1).default(DEMO_CLIENT_IDS.worker),
    WORKER_CLIENT_SECRET: z.string().min(1).optional(),
    WORKER_CLIENT_SECRET_FILE: z.string().min(1).optional(),
    WORKER_IDLE_MAX_MS: z.coerce.number().int().min(100).max(300_000).default(30_000),
    DATA_DIR: z.string().default('./.data'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .safeParse(withPortFollowingUrls(process.env));

const log = createLogger({ level: env.success ? env.data.LOG_LEVEL : 'info', format: 'json', name: 'worker' });
if (!env.success) {
  for (const issue of env.error.issues) log.fatal(`${issue.path.join('.')}: ${issue.message}`);
  process.exit(1);
}
const settings = env.data;
const secretFile =
  settings.WORKER_CLIENT_SECRET_FILE ??
  (settings.WORKER_CLIENT_SECRET ? undefined : path.join(path.resolve(settings.DATA_DIR), DEMO_WORKER_SECRET_FILE));
if (secretFile && !existsSync(secretFile)) {
  log.fatal(
    { file: secretFile },
    'no client secret: set WORKER_CLIENT_SECRET or WORKER_CLIENT_SECRET_FILE (or run `npm start` once to create the demo worker client)',
  );
  process.exit(1);
}
const clientSecret = settings.WORKER_CLIENT_SECRET ?? readFileSync(secretFile!, 'utf8').trim();

const worker = taskWorker(
  {
    issuer: settings.ISSUER_URL,
    api: settings.TASK_API_URL,
    clientId: settings.WORKER_CLIENT_ID,
    clientSecret,
    idleMaxMs: settings.WORKER_IDLE_MAX_MS,
  },
  log,
);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => worker.stop());
log.info(
  { issuer: settings.ISSUER_URL, api: settings.TASK_API_URL, clientId: settings.WORKER_CLIENT_ID },
  'worker started',
);
await worker.run();
process.exit(0);
