/**
 * `npm run bench` (`-- --quick` for CI): Latchkey's issuer and task API beside their ceilings, on
 * this machine, in one run. See docs/benchmarks.md for what each scenario measures and why.
 */
import { TASK_API_SCOPE_DESCRIPTIONS } from '../../src/resource-server/tasks/task-scopes.ts';
import { spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { projectRoot } from '../support/processes.ts';
import { freePort } from '../support/processes.ts';
import { UserAgent } from '../support/user-agent.ts';
import { latencyAt, maxThroughput, type Latency, type Measured, type RequestSpec } from './load.ts';
import { httpReady, outputReady, startProcess, type BenchProcess } from './processes.ts';
import { explainHotQueries, scaled, seedAtScale } from './scale.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    // --scale fills PostgreSQL to production size first (see scale.ts); --scale-factor 0.1 for a tenth.
    scale: { type: 'boolean', default: false },
    'scale-factor': { type: 'string', default: '1' },
    // --only refresh,tasks runs those scenarios alone (cc, refresh, sign-in, tasks, documents, storm), to profile one.
    only: { type: 'string' },
    // --seconds 40 lengthens each run (a p99 from more samples); 10 by default, 3 with --quick.
    seconds: { type: 'string' },
  },
});
const SCENARIOS = ['cc', 'refresh', 'sign-in', 'tasks', 'documents', 'storm'] as const;
const only = args.only?.split(',').map((name) => name.trim());
const unknownScenario = only?.find((name) => !(SCENARIOS as readonly string[]).includes(name));
if (unknownScenario) throw new Error(`--only takes ${SCENARIOS.join(', ')}; not ${unknownScenario}`);
const runs = (scenario: (typeof SCENARIOS)[number]) => !only || only.includes(scenario);
/** With --profile, the issuer and the task API write V8 CPU profiles to bench-results/profiles (read them with profile-summary.ts). */
const profileArgs = args.profile
  ? ['--cpu-prof', `--cpu-prof-dir=${path.join(projectRoot, 'bench-results', 'profiles')}`]
  : [];
const SECONDS = args.seconds ? Number(args.seconds) : args.quick ? 3 : 10;
if (!Number.isInteger(SECONDS) || SECONDS < 1)
  throw new Error(`--seconds takes a whole number of seconds, not ${args.seconds}`);
const CHAINS = 16;
const PASSWORD = 'benchmark passphrase, long enough';
const KEY_ENCRYPTION_KEY = randomBytes(32).toString('hex');
const redirectUri = 'http://127.0.0.1:9/cb';

const postgres =
  process.env.DATABASE_URL && process.env.REDIS_URL
    ? { url: process.env.DATABASE_URL, redis: process.env.REDIS_URL }
    : undefined;
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-bench-'));
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

// --- the stores ----------------------------------------------------------------------------------
let databaseUrl: string | undefined;
if (postgres) {
  const server = new URL(postgres.url);
  const admin = new pg.Client({
    connectionString: Object.assign(new URL(server.href), { pathname: '/postgres' }).href,
  });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS latchkey_bench WITH (FORCE)');
  await admin.query('CREATE DATABASE latchkey_bench');
  await admin.end();
  databaseUrl = Object.assign(new URL(server.href), { pathname: '/latchkey_bench' }).href;
}

const [issuerPort, apiPort, providerPort, koaPort] = await Promise.all([
  freePort(),
  freePort(),
  freePort(),
  freePort(),
]);
const issuerUrl = `http://127.0.0.1:${issuerPort}`;
const apiUrl = `http://127.0.0.1:${apiPort}`;
const baseEnv: Record<string, string> = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'json',
  DATA_DIR: dataDir,
  ISSUER_URL: issuerUrl,
  ISSUER_PORT: String(issuerPort),
  TASK_API_URL: apiUrl,
  TASK_API_PORT: String(apiPort),
  KEY_ENCRYPTION_KEY,
  SMTP_URL: 'smtp://127.0.0.1:9',
  // One user token from one address drives the API scenario: the per-caller and per-address limits
  // would otherwise answer 429 (counted as errors, and measuring the limiter instead of the API).
  TASK_API_RATE_LIMIT_PER_MINUTE: '1000000',
  TASK_API_IP_RATE_LIMIT_PER_MINUTE: '1000000',
  LOCKOUT_IP_MAX_FAILURES: '10000',
  // One test account signs in from up to 16 "browsers" at once; each attempt takes a numbered place
  // in the lockout count until it succeeds, and 16 in flight would pass the default of 5.
  LOCKOUT_MAX_FAILURES: '100',
  ...(postgres
    ? { DATABASE_URL: databaseUrl!, REDIS_URL: postgres.redis, REDIS_KEY_PREFIX: `latchkey-bench-${process.pid}:` }
    : {}),
};
if (!postgres) {
  // Production mode needs real stores; the embedded benchmark runs the development mode instead.
  baseEnv.NODE_ENV = 'development';
  delete baseEnv.SMTP_URL;
}

async function latchkey(commandArgs: string[], input?: string): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [path.join(projectRoot, 'src/cli/latchkey.ts'), ...commandArgs, '--json'], {
    env: { PATH: process.env.PATH, ...baseEnv },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdin.end(input ?? '');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`latchkey ${commandArgs.join(' ')} failed: ${err}`);
  return JSON.parse(out) as Record<string, unknown>;
}

log(`mode: ${postgres ? 'PostgreSQL + Redis' : 'embedded (PGlite, in-process store)'}; ${SECONDS} s per run`);
await latchkey(['migrate']);
// --- the issuer first: `latchkey` registers the API and clients through its admin API, as the
// local operator (the credential the issuer writes into DATA_DIR) ----------------------------------
const loopDelayFile = path.join(dataDir, 'loop-delay.json');
const issuer = await startProcess({
  name: 'issuer',
  entry: 'src/issuer/main.ts',
  url: issuerUrl,
  env: { ...baseEnv, LOOP_DELAY_FILE: loopDelayFile },
  nodeArgs: [...profileArgs, '--import', path.join(projectRoot, 'test/benchmark/probe/loop-delay.ts')],
  ready: httpReady(`${issuerUrl}/readyz`),
});
// The task API, registered as an operator would, with the scopes and sentences the demo gives it.
await latchkey([
  'api',
  'create',
  apiUrl,
  '--name',
  'Task API',
  ...TASK_API_SCOPE_DESCRIPTIONS.flatMap((scope) => ['--scope', `${scope.name}=${scope.description}`]),
]);
const web = await latchkey([
  'client',
  'create',
  '--name',
  'bench web app',
  '--type',
  'web',
  '--resource',
  apiUrl,
  '--redirect-uri',
  redirectUri,
  '--first-party',
  '--scope',
  'openid',
  '--scope',
  'tasks:read',
  '--scope',
  'tasks:write',
]);
const service = await latchkey([
  'client',
  'create',
  '--name',
  'bench service',
  '--type',
  'service',
  '--resource',
  apiUrl,
  '--scope',
  'tasks:work',
]);
// Roles, as an operator gives them: every account (the default `user` role) reads and writes its
// tasks; the service works the queue through a role of its own.
await latchkey(['role', 'grant', 'user', apiUrl, 'tasks:read', 'tasks:write']);
await latchkey(['role', 'create', 'bench-worker', '--description', 'Works on queued tasks']);
await latchkey(['role', 'grant', 'bench-worker', apiUrl, 'tasks:work']);
await latchkey(['client', 'roles', 'add', String(service.id), 'bench-worker']);
await latchkey(['user', 'create', '--email', 'load-tester@example.com', '--verified'], `${PASSWORD}\n`);

let scale:
  | {
      sizes: ReturnType<typeof scaled>;
      seedSeconds: Record<string, number>;
      plans: Awaited<ReturnType<typeof explainHotQueries>>;
    }
  | undefined;
if (args.scale) {
  if (!databaseUrl) throw new Error('--scale needs DATABASE_URL and REDIS_URL (it fills PostgreSQL)');
  const sizes = scaled(Number(args['scale-factor']));
  log(`scale: seeding ${JSON.stringify(sizes)}`);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const seedSeconds = await seedAtScale(db, sizes);
  log(`scale: seeded in ${JSON.stringify(seedSeconds)} s`);
  const plans = await explainHotQueries(db);
  await db.end();
  for (const plan of plans) log(`scale: ${plan.indexed ? 'index' : 'NO INDEX'}: ${plan.name}`);
  scale = { sizes, seedSeconds, plans };
}
const basic = (id: unknown, secret: unknown) =>
  `Basic ${Buffer.from(`${encodeURIComponent(String(id))}:${encodeURIComponent(String(secret))}`).toString('base64')}`;
const webAuth = basic(web.id, web.clientSecret);
const serviceAuth = basic(service.id, service.clientSecret);

const api = await startProcess({
  name: 'task-api',
  entry: 'src/resource-server/main.ts',
  url: apiUrl,
  env: baseEnv,
  nodeArgs: profileArgs,
  ready: httpReady(`${apiUrl}/readyz`),
});
await new Promise((resolve) => setTimeout(resolve, 2_000));
const idle = {
  issuerRssMb: issuer.rssMb(),
  apiRssMb: api.rssMb(),
  issuerStartupMs: issuer.startupMs,
  apiStartupMs: api.startupMs,
};

const provider = await startProcess({
  name: 'bare oidc-provider',
  entry: 'test/benchmark/baselines/bare-provider.ts',
  url: `http://127.0.0.1:${providerPort}`,
  env: { PORT: String(providerPort), RESOURCE: apiUrl },
  ready: outputReady(/ready/),
});
const discoveryBody = await (await fetch(`${issuerUrl}/.well-known/openid-configuration`)).text();
const jwksBody = await (await fetch(`${issuerUrl}/jwks`)).text();
const koa = await startProcess({
  name: 'bare koa',
  entry: 'test/benchmark/baselines/bare-koa.ts',
  url: `http://127.0.0.1:${koaPort}`,
  env: {
    PORT: String(koaPort),
    ISSUER_URL: issuerUrl,
    AUDIENCE: apiUrl,
    DISCOVERY_BODY: discoveryBody,
    JWKS_BODY: jwksBody,
    // The task API's tables, for the verify-and-read baseline (PostgreSQL only: PGlite is one process's).
    ...(databaseUrl ? { TASKS_DATABASE_URL: databaseUrl, TASKS_SCHEMA: 'tasks' } : {}),
  },
  ready: outputReady(/ready/),
});

// --- sign-in, by hand (a browser's steps: authorize, login form, code, token) ---------------------
async function signIn(): Promise<{ refreshToken: string; accessToken: string }> {
  const agent = new UserAgent();
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorize = new URL('/auth', issuerUrl);
  authorize.search = new URLSearchParams({
    client_id: String(web.id),
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid tasks:read',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'bench',
  }).toString();
  const page = await agent.follow(authorize, issuerUrl);
  await page.response.text();
  const landed = await agent.submitForm(
    new URL(`${page.url.pathname}/login`, issuerUrl),
    { csrf: agent.formToken(), email: 'load-tester@example.com', password: PASSWORD },
    issuerUrl,
  );
  await landed.response.body?.cancel();
  const code = landed.url.searchParams.get('code');
  if (!code) throw new Error(`sign-in did not return a code (${landed.response.status})`);
  const response = await fetch(`${issuerUrl}/token`, {
    method: 'POST',
    headers: { authorization: webAuth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }).toString(),
  });
  const tokens = (await response.json()) as { refresh_token?: string; access_token?: string };
  if (!tokens.refresh_token || !tokens.access_token) throw new Error(`token request failed: ${JSON.stringify(tokens)}`);
  return { refreshToken: tokens.refresh_token, accessToken: tokens.access_token };
}

/** Sign-ins from `concurrency` browsers for `seconds` (or at `rate` per second): completed count, latency percentiles, server CPU. */
async function signInLoad(
  seconds: number,
  options: { concurrency?: number; rate?: number },
): Promise<{ completed: number; errors: number; p50: number; p99: number; cpuSeconds: number; seconds: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const cpuBefore = issuer.cpuSeconds();
  const started = performance.now();
  const end = started + seconds * 1000;
  const one = async () => {
    const t = performance.now();
    try {
      await signIn();
      latencies.push(performance.now() - t);
    } catch {
      errors += 1;
    }
  };
  if (options.rate) {
    const inFlight: Array<Promise<void>> = [];
    for (let next = started; next < end; next += 1000 / options.rate) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
      inFlight.push(one());
    }
    await Promise.all(inFlight);
  } else {
    await Promise.all(
      Array.from({ length: options.concurrency ?? 8 }, async () => {
        while (performance.now() < end) await one();
      }),
    );
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0);
  return {
    completed: latencies.length,
    errors,
    p50: at(0.5),
    p99: at(0.99),
    cpuSeconds: issuer.cpuSeconds() - cpuBefore,
    seconds: elapsed,
  };
}

// --- PostgreSQL writes per operation (PostgreSQL mode only) --------------------------------------
async function rowWrites(): Promise<number | undefined> {
  if (!databaseUrl) return undefined;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const { rows } = await client.query<{ writes: string }>(
    "SELECT (tup_inserted + tup_updated + tup_deleted)::text AS writes FROM pg_stat_database WHERE datname = 'latchkey_bench'",
  );
  await client.end();
  return Number(rows[0]?.writes ?? 0);
}

// --- the scenarios -------------------------------------------------------------------------------
interface Row {
  scenario: string;
  target: string;
  max: Measured;
  latency: Latency;
  ratio?: number;
  /** The task API against its second baseline: the same verification and SQL with nothing of ours. */
  ratioToRead?: number;
  writesPerOp?: number;
}
const rows: Row[] = [];

async function measure(
  scenario: string,
  server: BenchProcess,
  target: string,
  spec: RequestSpec,
  options: { baseline?: Measured; readBaseline?: Measured; countWrites?: boolean } = {},
): Promise<Measured> {
  const writesBefore = options.countWrites ? await rowWrites() : undefined;
  const max = await maxThroughput(server, spec, SECONDS);
  const writesAfter = options.countWrites ? await rowWrites() : undefined;
  const latency = await latencyAt(server, spec, max.perSecond / 2, SECONDS);
  const row: Row = { scenario, target, max, latency };
  const ratio = (baseline: Measured) => Math.round((max.perCpuSecond / baseline.perCpuSecond) * 100) / 100;
  if (options.baseline) row.ratio = ratio(options.baseline);
  if (options.readBaseline) row.ratioToRead = ratio(options.readBaseline);
  if (writesBefore !== undefined && writesAfter !== undefined && max.requests > 0)
    row.writesPerOp = Math.round(((writesAfter - writesBefore) / max.requests) * 100) / 100;
  rows.push(row);
  log(
    `${scenario} / ${target}: ${max.perSecond}/s, ${max.perCpuSecond}/CPU-s, p99 ${latency.p99} ms at ${latency.rate}/s, ${max.errors} errors`,
  );
  return max;
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = (authorization: string) => ({ authorization, 'content-type': 'application/x-www-form-urlencoded' });

// 1. client credentials
const ccSpec: RequestSpec = {
  path: '/token',
  method: 'POST',
  headers: formHeaders(serviceAuth),
  body: form({ grant_type: 'client_credentials', scope: 'tasks:work' }),
};
if (runs('cc')) {
  const bareCc = await measure('1 client credentials (JWT)', provider, 'bare oidc-provider', {
    path: '/token',
    method: 'POST',
    headers: formHeaders(basic('bench', 'bench-secret-bench-secret-bench-secret')),
    body: form({ grant_type: 'client_credentials', scope: 'tasks:work' }),
  });
  await measure('1 client credentials (JWT)', koa, 'bare koa hello', { path: '/hello' });
  await measure('1 client credentials (JWT)', issuer, 'Latchkey', ccSpec, { baseline: bareCc, countWrites: true });
}

// 2. refresh-token rotation. autocannon clears a connection's context after each pass through its
// requests, so the chains live in one queue: each request takes a ready token, each answer puts its
// successor back. With twice as many chains as connections, a token is never presented twice.
function chainSpec(pool: string[], authorization: string): RequestSpec {
  return {
    path: '/token',
    requests: [
      {
        method: 'POST',
        headers: formHeaders(authorization),
        setupRequest: (request) => ({
          ...request,
          body: form({ grant_type: 'refresh_token', refresh_token: pool.shift() ?? 'pool-exhausted' }),
        }),
        onResponse: (status, body) => {
          const successor = status === 200 ? (JSON.parse(body) as { refresh_token?: string }).refresh_token : undefined;
          if (successor) pool.push(successor);
        },
      },
    ],
  };
}
if (runs('refresh')) {
  const mint = async () =>
    (await (await fetch(`${provider.url}/bench/refresh-tokens?n=${CHAINS * 2}`)).json()) as string[];
  const bareRefresh = await maxThroughput(
    provider,
    chainSpec(await mint(), basic('bench', 'bench-secret-bench-secret-bench-secret')),
    SECONDS,
  );
  const bareRefreshLatency = await latencyAt(
    provider,
    chainSpec(await mint(), basic('bench', 'bench-secret-bench-secret-bench-secret')),
    bareRefresh.perSecond / 2,
    SECONDS,
  );
  rows.push({
    scenario: '2 refresh rotation',
    target: 'bare oidc-provider',
    max: bareRefresh,
    latency: bareRefreshLatency,
  });
  const ourChains = async () =>
    Promise.all(Array.from({ length: CHAINS * 2 }, async () => (await signIn()).refreshToken));
  const writesBefore = await rowWrites();
  const ourRefresh = await maxThroughput(issuer, chainSpec(await ourChains(), webAuth), SECONDS);
  const writesAfter = await rowWrites();
  const ourRefreshLatency = await latencyAt(
    issuer,
    chainSpec(await ourChains(), webAuth),
    ourRefresh.perSecond / 2,
    SECONDS,
  );
  rows.push({
    scenario: '2 refresh rotation',
    target: 'Latchkey',
    max: ourRefresh,
    latency: ourRefreshLatency,
    ratio: Math.round((ourRefresh.perCpuSecond / bareRefresh.perCpuSecond) * 100) / 100,
    // The sign-ins that made the chains wrote too; they ran before `writesBefore`... except the latency run's, which came after.
    ...(writesBefore !== undefined && writesAfter !== undefined
      ? { writesPerOp: Math.round(((writesAfter - writesBefore) / ourRefresh.requests) * 100) / 100 }
      : {}),
  });
  log(`2 refresh rotation / Latchkey: ${ourRefresh.perSecond}/s (bare ${bareRefresh.perSecond}/s)`);
}

// 3. password sign-in vs the argon2 ceiling
interface SignIns {
  ceilingPerSecond: number;
  ceilingPerCpuSecond: number;
  perSecond: number;
  perCpuSecond: number;
  ratio: number;
  errors: number;
  p50AtHalf: number;
  p99AtHalf: number;
  rssMb: number;
}
let signIns: SignIns | undefined;
if (runs('sign-in')) {
  const ceiling = await new Promise<{ perSecond: number; cpuSeconds: number; verifications: number }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, [path.join(projectRoot, 'test/benchmark/baselines/argon2-ceiling.ts')], {
        env: { PATH: process.env.PATH, SECONDS: String(SECONDS) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('exit', (code) =>
        code === 0
          ? resolve(JSON.parse(out) as { perSecond: number; cpuSeconds: number; verifications: number })
          : reject(new Error('argon2 ceiling failed')),
      );
    },
  );
  const signInMax = await signInLoad(SECONDS, { concurrency: 8 });
  const signInRate = signInMax.completed / signInMax.seconds;
  const signInFixed = await signInLoad(SECONDS, { rate: signInRate / 2 });
  signIns = {
    ceilingPerSecond: Math.round(ceiling.perSecond * 10) / 10,
    ceilingPerCpuSecond: Math.round((ceiling.verifications / ceiling.cpuSeconds) * 10) / 10,
    perSecond: Math.round(signInRate * 10) / 10,
    perCpuSecond: Math.round((signInMax.completed / signInMax.cpuSeconds) * 10) / 10,
    ratio: Math.round((signInRate / ceiling.perSecond) * 100) / 100,
    errors: signInMax.errors + signInFixed.errors,
    p50AtHalf: signInFixed.p50,
    p99AtHalf: signInFixed.p99,
    rssMb: issuer.rssMb(),
  };
  log(`3 sign-in: ${signIns.perSecond}/s vs argon2 ceiling ${signIns.ceilingPerSecond}/s`);
}

// 4. task API reads
if (runs('tasks')) {
  const { accessToken } = await signIn();
  const bearer = { authorization: `Bearer ${accessToken}` };
  await measure('4 GET /tasks/mine', koa, 'bare koa, no verification', { path: '/hello', headers: bearer });
  const verifyOnly = await measure('4 GET /tasks/mine', koa, 'bare koa + jose verify', {
    path: '/verify-only',
    headers: bearer,
  });
  const verifyAndRead = databaseUrl
    ? await measure('4 GET /tasks/mine', koa, 'bare koa + jose verify + pg read', {
        path: '/verify-and-read',
        headers: bearer,
      })
    : undefined;
  await measure(
    '4 GET /tasks/mine',
    api,
    'Latchkey task API',
    { path: '/tasks/mine', headers: bearer },
    { baseline: verifyOnly, ...(verifyAndRead ? { readBaseline: verifyAndRead } : {}) },
  );
}

// 5. discovery and JWKS
if (runs('documents')) {
  const koaDiscovery = await measure('5 discovery', koa, 'bare koa', { path: '/discovery' });
  await measure(
    '5 discovery',
    issuer,
    'Latchkey',
    { path: '/.well-known/openid-configuration' },
    { baseline: koaDiscovery },
  );
  const koaJwks = await measure('5 JWKS', koa, 'bare koa', { path: '/jwks' });
  await measure('5 JWKS', issuer, 'Latchkey', { path: '/jwks' }, { baseline: koaJwks });
}

// Event-loop delay during a sign-in storm while client credentials continue at a fixed rate.
type LoopDelay = { p50: number; p99: number; max: number };
let storm:
  { loopDelay: LoopDelay; clientCredentials: Latency; signInsCompleted: number; signInErrors: number } | undefined;
if (runs('storm')) {
  const ccMax =
    rows.find((row) => row.target === 'Latchkey' && row.scenario.startsWith('1'))?.max.perSecond ??
    (await maxThroughput(issuer, ccSpec, SECONDS)).perSecond;
  issuer.child.kill('SIGUSR2');
  const [stormCc, stormRun] = await Promise.all([
    latencyAt(issuer, ccSpec, ccMax / 4, SECONDS),
    signInLoad(SECONDS, { concurrency: 16 }),
  ]);
  issuer.child.kill('SIGUSR2');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const loopDelay = JSON.parse(await readFile(loopDelayFile, 'utf8')) as LoopDelay;
  storm = {
    loopDelay,
    clientCredentials: stormCc,
    signInsCompleted: stormRun.completed,
    signInErrors: stormRun.errors,
  };
  log(
    `storm: event-loop delay p99 ${loopDelay.p99} ms; client credentials p99 ${stormCc.p99} ms at ${stormCc.rate}/s; ${stormRun.completed} sign-ins`,
  );
}

// --- the report ----------------------------------------------------------------------------------
for (const server of [koa, provider, api, issuer]) await server.stop();
await rm(dataDir, { recursive: true, force: true });

const machine = {
  cpus: os.cpus().length,
  model: os.cpus()[0]?.model ?? 'unknown',
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.type()} ${os.release()}`,
};
const results = {
  date: new Date().toISOString(),
  mode: postgres ? 'postgres+redis' : 'embedded',
  quick: args.quick,
  scale: scale ? { sizes: scale.sizes, seedSeconds: scale.seedSeconds } : undefined,
  secondsPerRun: SECONDS,
  machine,
  idle,
  rows,
  signIns,
  storm,
};

const table = [
  '| Scenario | Target | req/s | req/CPU-s | ratio | p50 / p99 ms at half load | errors | RSS MB | writes/op |',
  '|---|---|---:|---:|---:|---|---:|---:|---:|',
  ...rows.map(
    (row) =>
      `| ${row.scenario} | ${row.target} | ${row.max.perSecond} | ${row.max.perCpuSecond} | ${row.ratio ?? ''}${row.ratioToRead === undefined ? '' : ` (${row.ratioToRead} of verify + pg read)`} | ${row.latency.p50} / ${row.latency.p99} (at ${row.latency.rate}/s) | ${row.max.errors + row.latency.errors} | ${row.max.rssMb} | ${row.writesPerOp ?? ''} |`,
  ),
  ...(signIns
    ? [
        `| 3 password sign-in | raw argon2id ceiling | ${signIns.ceilingPerSecond} | ${signIns.ceilingPerCpuSecond} | | | | | |`,
        `| 3 password sign-in | Latchkey (authorize, login, code, token) | ${signIns.perSecond} | ${signIns.perCpuSecond} | ${signIns.ratio} | ${signIns.p50AtHalf} / ${signIns.p99AtHalf} | ${signIns.errors} | ${signIns.rssMb} | |`,
      ]
    : []),
].join('\n');
const markdown = `Mode: ${results.mode}${args.quick ? ' (quick)' : ''}${scale ? ` at scale ${JSON.stringify(scale.sizes)}` : ''}; ${SECONDS} s per run, 16 connections; ${machine.cpus} × ${machine.model}, ${machine.memoryGb} GB, Node ${machine.node}.

${table}

Idle RSS after start-up: issuer ${idle.issuerRssMb} MB, task API ${idle.apiRssMb} MB. Start-up to ready: issuer ${idle.issuerStartupMs} ms, task API ${idle.apiStartupMs} ms.
${
  storm
    ? `Sign-in storm (16 concurrent sign-ins, ${storm.signInsCompleted} completed) with client credentials at ${storm.clientCredentials.rate}/s: issuer event-loop delay p50 ${storm.loopDelay.p50} ms, p99 ${storm.loopDelay.p99} ms, max ${storm.loopDelay.max} ms; client-credentials p50 ${storm.clientCredentials.p50} ms, p99 ${storm.clientCredentials.p99} ms.\n`
    : ''
}`;
const outDir = path.join(projectRoot, 'bench-results');
await mkdir(outDir, { recursive: true });
if (scale)
  await writeFile(
    path.join(outDir, 'explain.md'),
    [
      `Plans at scale (${JSON.stringify(scale.sizes)}; seeded in ${JSON.stringify(scale.seedSeconds)} s):`,
      ...scale.plans.map(
        (plan) => `\n### ${plan.name} (${plan.indexed ? 'index' : 'NO INDEX'})\n\n\`\`\`\n${plan.plan}\n\`\`\``,
      ),
    ].join('\n') + '\n',
  );
await writeFile(path.join(outDir, 'benchmark.json'), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(path.join(outDir, 'benchmark.md'), markdown);
process.stdout.write(`\n${markdown}`);
process.exit(0);
