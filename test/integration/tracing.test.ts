import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as client from 'openid-client';
import {
  freshPostgresDatabase,
  REAL_POSTGRES_URL,
  REAL_REDIS_URL,
  TEST_KEY_ENCRYPTION_KEY,
  temporaryDirectory,
} from '../support/environment.ts';
import { waitForStatus } from '../support/http.ts';
import { authorizeInBrowser, TEST_PASSWORD } from '../support/issuer-harness.ts';
import { freePort, projectRoot } from '../support/processes.ts';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  scope: string;
  attributes: Record<string, unknown>;
}

/** An OTLP/HTTP (JSON) trace receiver on loopback, as a collector would be, keeping every span. */
async function startTraceReceiver() {
  const spans: ReceivedSpan[] = [];
  const raw: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      if (request.url !== '/v1/traces') return;
      raw.push(body);
      const batch = JSON.parse(body) as {
        resourceSpans: Array<{
          scopeSpans: Array<{
            scope: { name: string };
            spans: Array<
              Omit<ReceivedSpan, 'attributes' | 'scope'> & {
                attributes?: Array<{ key: string; value: Record<string, unknown> }>;
              }
            >;
          }>;
        }>;
      };
      for (const resource of batch.resourceSpans)
        for (const scope of resource.scopeSpans)
          for (const span of scope.spans)
            spans.push({
              ...span,
              scope: scope.scope.name,
              attributes: Object.fromEntries((span.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]])),
            });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, raw, close: () => server.close() };
}

describe('traces (OpenTelemetry)', () => {
  it('sends a sign-in as a trace of route spans with their database and Redis children, and no secret in it', async () => {
    const receiver = await startTraceReceiver();
    const dir = await temporaryDirectory();
    const database = REAL_POSTGRES_URL ? await freshPostgresDatabase() : undefined;
    const port = await freePort();
    const env = {
      PATH: process.env.PATH,
      LOG_FORMAT: 'json',
      DATA_DIR: dir.path,
      ISSUER_URL: `http://127.0.0.1:${port}`,
      ISSUER_PORT: String(port),
      ISSUER_METRICS_PORT: '0',
      KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY,
      DATABASE_URL: database?.url,
      REDIS_URL: REAL_REDIS_URL,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'latchkey-issuer',
    };
    const issuer = spawn(
      process.execPath,
      ['--import', './src/shared/observability/tracing.ts', path.join(projectRoot, 'src/issuer/main.ts')],
      { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    issuer.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    issuer.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise((resolve) => issuer.on('exit', resolve));
    const latchkey = async (args: string[], stdin = '') => {
      const run = spawn(process.execPath, [path.join(projectRoot, 'src/cli/latchkey.ts'), ...args, '--json'], {
        env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: '' },
      });
      let stdout = '';
      run.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      run.stdin.end(stdin);
      assert.equal(await new Promise((resolve) => run.on('exit', resolve)), 0, stdout);
      return JSON.parse(stdout) as Record<string, unknown>;
    };
    try {
      await waitForStatus(`${env.ISSUER_URL}/readyz`, 200, 30_000);
      const redirect = 'http://127.0.0.1:5999/callback';
      const app = await latchkey([
        'client',
        'create',
        '--name',
        'Traced app',
        '--type',
        'spa',
        '--first-party',
        '--redirect-uri',
        redirect,
      ]);
      const email = 'traced@example.com';
      const user = await latchkey(['user', 'create', '--email', email, '--verified'], `${TEST_PASSWORD}\n`);
      const config = await client.discovery(new URL(env.ISSUER_URL), String(app.id), undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
      const { callbackUrl, verifier, state } = await authorizeInBrowser(
        env.ISSUER_URL,
        config,
        { id: String(user.id), email },
        { redirect_uri: redirect, scope: 'openid email' },
      );
      const code = callbackUrl.searchParams.get('code')!;
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      issuer.kill('SIGTERM');
      await exited;

      const login = receiver.spans.find((span) => span.name === 'POST /interaction/:uid/login');
      assert.ok(
        login,
        `a server span for the login form: ${[...new Set(receiver.spans.map((span) => span.name))].join(', ')}`,
      );
      const inTrace = receiver.spans.filter((span) => span.traceId === login.traceId);
      const route = inTrace.find((span) => span.name === 'router - /interaction/:uid/login');
      assert.ok(route, 'the koa route span');
      assert.equal(route.parentSpanId, login.spanId);
      if (REAL_POSTGRES_URL)
        assert.ok(
          inTrace.some((span) => span.scope.includes('instrumentation-pg')),
          'PostgreSQL queries in the trace',
        );
      if (REAL_REDIS_URL)
        assert.ok(
          inTrace.some((span) => span.scope.includes('instrumentation-ioredis')),
          'Redis commands in the trace',
        );

      const everything = receiver.raw.join('\n');
      for (const secret of [TEST_PASSWORD, email, code, tokens.access_token, verifier, state])
        assert.ok(!everything.includes(secret), `no ${secret.slice(0, 12)}… in any span`);
      assert.ok(!/"key":"http\.request\.header\.cookie"/.test(everything), 'no cookie header');
      const lines = log.split('\n').filter((line) => line.includes('"traceId"'));
      assert.ok(
        lines.some((line) => line.includes(login.traceId) && line.includes('"requestId"')),
        'the log line names the trace and the request',
      );
    } finally {
      issuer.kill('SIGKILL');
      receiver.close();
      await dir.remove();
      await database?.drop();
    }
  });
});
