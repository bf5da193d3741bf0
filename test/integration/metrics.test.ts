import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../support/task-api-harness.ts';
import { REAL_POSTGRES_URL } from '../support/environment.ts';
import { projectRoot } from '../support/processes.ts';
import { needsPrometheus, promtoolCheck, startPrometheus } from '../support/prometheus.ts';

/**
 * Prometheus metrics: each process on a listener of its own, what moves when people sign in and
 * services ask for tokens, what never appears in a label, and a real Prometheus scraping it.
 */
describe('metrics', () => {
  let stack: Stack;
  let issuerMetrics: string;
  let apiMetrics: string;
  const scrape = async (port: number | undefined) => {
    assert.ok(port, 'the metrics listener is on');
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return response.text();
  };
  /** The value of the series named `name` whose labels include every one of `labels`, or 0. */
  const valueOf = (text: string, name: string, labels: Record<string, string> = {}) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .filter((line) => Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);

  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.stop());

  it('counts a sign-in, a token request and a task API call, by route template, and serves them off the public port', async () => {
    const before = await scrape(stack.issuer.service.metricsPort);
    const user = await stack.userToken();
    const service = await stack.serviceToken();
    assert.equal((await stack.call('GET', '/tasks/mine', user.token)).status, 200);
    assert.equal((await stack.call('GET', '/tasks/mine', user.token)).status, 200);
    issuerMetrics = await scrape(stack.issuer.service.metricsPort);
    apiMetrics = await scrape(stack.api.metricsPort);

    const signIns = (text: string) => valueOf(text, 'latchkey_sign_ins_total', { method: 'password' });
    assert.equal(signIns(issuerMetrics) - signIns(before), 1, 'one password sign-in');
    const login = { route: '/interaction/:uid/login', method: 'POST' };
    assert.ok(valueOf(issuerMetrics, 'latchkey_http_requests_total', login) >= 1, 'the login form by its template');
    assert.ok(valueOf(issuerMetrics, 'latchkey_http_requests_total', { route: '/token', status: '200' }) >= 2);
    const issued = { grant_type: 'client_credentials', token_type: 'access_token' };
    assert.ok(valueOf(issuerMetrics, 'latchkey_tokens_issued_total', issued) >= 1);
    const refresh = { grant_type: 'authorization_code', token_type: 'id_token' };
    assert.ok(valueOf(issuerMetrics, 'latchkey_tokens_issued_total', refresh) >= 1);
    assert.ok(valueOf(issuerMetrics, 'latchkey_security_events_total', { type: 'sign_in.succeeded' }) >= 1);
    assert.equal(valueOf(issuerMetrics, 'latchkey_signing_keys', { purpose: 'token', state: 'signing' }) >= 1, true);
    assert.ok(valueOf(issuerMetrics, 'latchkey_signing_key_rotation_due_seconds') > 0, 'rotation not overdue');
    assert.equal(valueOf(issuerMetrics, 'latchkey_dependency_up', { dependency: 'database' }), 1);
    assert.equal(valueOf(issuerMetrics, 'latchkey_dependency_up', { dependency: 'cache' }), 1);
    if (REAL_POSTGRES_URL)
      assert.ok(valueOf(issuerMetrics, 'latchkey_database_pool_connections', { state: 'total' }) >= 1, 'the pool');
    assert.equal(valueOf(issuerMetrics, 'latchkey_build_info', { service: 'issuer', version: '0.1.0' }), 1);
    assert.ok(valueOf(issuerMetrics, 'process_cpu_seconds_total') > 0, "Node's default metrics");

    assert.ok(valueOf(apiMetrics, 'latchkey_http_requests_total', { route: '/tasks/mine', status: '200' }) >= 1);
    assert.ok(valueOf(apiMetrics, 'latchkey_jwks_fetches_total', { outcome: 'success' }) >= 1);
    assert.ok(valueOf(apiMetrics, 'latchkey_jwks_lookups_total', { result: 'hit' }) >= 1, 'the second call: held keys');
    assert.equal(valueOf(apiMetrics, 'latchkey_build_info', { service: 'task-api' }), 1);

    // Not on the public ports.
    assert.equal((await fetch(`${stack.issuer.url}/metrics`)).status, 404);
    assert.equal((await fetch(`${stack.apiUrl}/metrics`)).status, 404);
    // Nothing that names a person, a token or a secret, in any label.
    for (const text of [issuerMetrics, apiMetrics]) {
      assert.ok(!text.includes(user.email), 'no email address');
      assert.ok(!text.includes(user.token.slice(0, 20)), 'no token');
      assert.ok(!text.includes(service.clientId), 'no client id unless an operator turns it on');
      assert.ok(!/route="\/interaction\/[A-Za-z0-9_-]{20,}/.test(text), 'no interaction id in a route');
    }
  });

  it('counts discovery and the JWKS by their routes, also once they are answered from memory', async () => {
    const count = (text: string, route: string) =>
      valueOf(text, 'latchkey_http_requests_total', { route, method: 'GET', status: '200' });
    const before = await scrape(stack.issuer.service.metricsPort);
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await fetch(`${stack.issuer.url}/jwks`)).status, 200);
      assert.equal((await fetch(`${stack.issuer.url}/.well-known/openid-configuration`)).status, 200);
    }
    const after = await scrape(stack.issuer.service.metricsPort);
    assert.equal(count(after, '/jwks') - count(before, '/jwks'), 3);
    const discovery = '/.well-known/openid-configuration';
    assert.equal(count(after, discovery) - count(before, discovery), 3);
  });

  it('labels a scan of made-up paths as one unmatched route, not one series per path', async () => {
    for (let i = 0; i < 5; i += 1) await fetch(`${stack.issuer.url}/scan-${i}-${Math.random()}`);
    const text = await scrape(stack.issuer.service.metricsPort);
    assert.ok(!text.includes('scan-'), 'no raw path');
    assert.ok(valueOf(text, 'latchkey_http_requests_total', { route: 'unmatched', status: '404' }) >= 5);
  });

  it('has an example Grafana dashboard whose every query names a metric the processes export', async () => {
    const dashboard = JSON.parse(await readFile(path.join(projectRoot, 'docs/grafana-dashboard.json'), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const exported = new Set(
      [...`${issuerMetrics}\n${apiMetrics}`.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]),
    );
    assert.ok(dashboard.panels.length >= 10);
    for (const panel of dashboard.panels)
      for (const { expr } of panel.targets)
        for (const [name] of expr.matchAll(/\b(latchkey|process|nodejs)_[a-z0-9_]+/g)) {
          const family = name.replace(/_(bucket|sum|count)$/, '');
          assert.ok(exported.has(family) || exported.has(name), `${panel.title}: ${name} is not exported`);
        }
  });

  it('passes promtool check metrics on both processes', { skip: needsPrometheus }, async () => {
    for (const [name, text] of [
      ['issuer', issuerMetrics],
      ['task API', apiMetrics],
    ] as const) {
      const verdict = await promtoolCheck(text);
      assert.ok(verdict.ok, `${name}: ${verdict.output}`);
    }
  });

  it('is scraped by a real Prometheus, which answers a query over it', { skip: needsPrometheus }, async () => {
    const prometheus = await startPrometheus([
      `127.0.0.1:${stack.issuer.service.metricsPort}`,
      `127.0.0.1:${stack.api.metricsPort}`,
    ]);
    try {
      let answer: Awaited<ReturnType<typeof prometheus.query>> = [];
      for (let waited = 0; waited < 30_000 && answer.length < 2; waited += 500) {
        answer = await prometheus.query('sum by (service) (latchkey_http_requests_total)');
        if (answer.length < 2) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      assert.deepEqual(answer.map((series) => series.metric.service).sort(), ['issuer', 'task-api']);
      assert.ok(answer.every((series) => Number(series.value[1]) > 0));
    } finally {
      await prometheus.stop();
    }
  });
});
