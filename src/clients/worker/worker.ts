import { DEMO_WORKER_SCOPE } from '../../shared/protocol.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oauth from 'oauth4webapi';
import type { Logger } from '../../shared/logging/logger.ts';

export interface WorkerSettings {
  issuer: string;
  api: string;
  clientId: string;
  clientSecret: string;
  /** Longest wait between polls when there is no work (the wait doubles from half a second up to this). */
  idleMaxMs: number;
  /** Renew the token this long before it expires. */
  renewBeforeMs?: number;
}

interface Task {
  id: string;
  title: string;
}

const allowHttp = (url: string) => ({ [oauth.allowInsecureRequests]: new URL(url).protocol === 'http:' });

/** The worker's access token by client credentials, cached until shortly before it expires. */
function serviceTokens(settings: WorkerSettings, log: Logger) {
  const client: oauth.Client = { client_id: settings.clientId };
  const auth = oauth.ClientSecretBasic(settings.clientSecret);
  const renewBeforeMs = settings.renewBeforeMs ?? 30_000;
  let as: oauth.AuthorizationServer | undefined;
  let cached: { token: string; expiresAt: number } | undefined;
  return {
    async get(): Promise<string> {
      if (cached && Date.now() < cached.expiresAt - renewBeforeMs) return cached.token;
      const issuer = new URL(settings.issuer);
      as ??= await oauth.processDiscoveryResponse(
        issuer,
        await oauth.discoveryRequest(issuer, allowHttp(settings.issuer)),
      );
      const parameters = { scope: DEMO_WORKER_SCOPE, resource: settings.api };
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        client,
        auth,
        parameters,
        allowHttp(settings.issuer),
      );
      const result = await oauth.processClientCredentialsResponse(as, client, response);
      cached = { token: result.access_token, expiresAt: Date.now() + (result.expires_in ?? 60) * 1000 };
      log.info({ expiresInSeconds: result.expires_in }, 'got a service token');
      return cached.token;
    },
    /** Revoked or rotated away: the next call gets a fresh one. */
    forget(): void {
      cached = undefined;
    },
  };
}

/**
 * The demo service: gets a token with client credentials (cached until shortly before it expires),
 * claims the next open task from the task API, completes it, and repeats, backing off while idle.
 * `stop()` lets the task in hand finish, then resolves `run()`.
 */
export function taskWorker(settings: WorkerSettings, log: Logger) {
  const tokens = serviceTokens(settings, log);
  const stopping = new AbortController();
  let completed = 0;

  async function call(method: string, path: string): Promise<Response> {
    const send = async () =>
      oauth.protectedResourceRequest(
        await tokens.get(),
        method,
        new URL(path, settings.api),
        new Headers({ accept: 'application/json' }),
        null,
        allowHttp(settings.api),
      );
    let response = await send();
    if (response.status === 401) {
      // Revoked or rotated away: one fresh token, then the answer stands.
      tokens.forget();
      await response.body?.cancel();
      response = await send();
    }
    return response;
  }

  /** One poll: true when a task was claimed and completed. */
  async function workOnce(): Promise<boolean> {
    const next = await call('GET', '/worker/tasks/next');
    if (next.status === 204) return false;
    if (!next.ok) throw new Error(`claiming a task answered ${next.status}`);
    const task = (await next.json()) as Task;
    log.info({ taskId: task.id }, 'claimed a task');
    const done = await call('POST', `/worker/tasks/${task.id}/complete`);
    if (!done.ok) throw new Error(`completing task ${task.id} answered ${done.status}`);
    await done.body?.cancel();
    completed += 1;
    log.info({ taskId: task.id, completed }, 'completed a task');
    return true;
  }

  return {
    async run(): Promise<void> {
      let idleMs = 0;
      while (!stopping.signal.aborted) {
        try {
          idleMs = (await workOnce()) ? 0 : Math.min(settings.idleMaxMs, Math.max(500, idleMs * 2));
        } catch (error) {
          idleMs = Math.min(settings.idleMaxMs, Math.max(1_000, idleMs * 2));
          log.warn(
            { errMessage: (error as Error).message, retryInMs: idleMs },
            'worker could not reach the issuer or the task API',
          );
        }
        if (idleMs > 0) await sleep(idleMs, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
      log.info({ completed }, 'worker stopped');
    },
    stop(): void {
      stopping.abort();
    },
  };
}
