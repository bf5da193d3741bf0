import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reviewDeployment, type DeploymentFacts } from '../../src/cli/deploy-review.ts';
import { loadConfig } from '../../src/shared/config/config.ts';

const production = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgresql://db/latchkey',
  REDIS_URL: 'redis://cache',
  SMTP_URL: 'smtp://mail',
  KEY_ENCRYPTION_KEY: 'a0'.repeat(32),
  ISSUER_URL: 'https://id.example.com',
  TASK_API_URL: 'https://tasks.example.com',
  TRUST_PROXY: '1',
};

/** The facts of a healthy deployment, with `database` parts replaced. */
function facts(database: Partial<Exclude<DeploymentFacts['database'], Error>> = {}): DeploymentFacts {
  return {
    database: {
      pendingMigrations: [],
      administrators: [{ email: 'root@example.com', secondFactor: true }],
      demoClients: [],
      newestTokenKeyCreatedAt: new Date(Date.now() - 86_400_000),
      passkeyRpIds: [],
      ...database,
    },
    cache: { persistent: true, replicas: 0 },
    mail: 'reachable',
  };
}

const errorsOf = (env: Record<string, string>, given: DeploymentFacts) =>
  reviewDeployment(loadConfig({ ...production, ...env }), { ...production, ...env }, given)
    .filter((finding) => finding.level === 'error')
    .map((finding) => finding.area);

describe('the pre-deploy audit', () => {
  it('finds nothing wrong with a healthy production deployment', () => {
    assert.deepEqual(errorsOf({}, facts()), []);
  });

  it('fails an administrator without a second factor, and a deployment with no administrator', () => {
    const unprotected = [{ email: 'ops@example.com', secondFactor: false }];
    assert.deepEqual(errorsOf({}, facts({ administrators: unprotected })), ['administrators']);
    assert.deepEqual(errorsOf({}, facts({ administrators: [] })), ['administrators']);
  });

  it('fails an overdue key rotation', () => {
    const old = new Date(Date.now() - 40 * 86_400_000);
    assert.deepEqual(errorsOf({}, facts({ newestTokenKeyCreatedAt: old })), ['keys']);
  });

  it('fails passkeys made for another relying party than WEBAUTHN_RP_ID', () => {
    assert.deepEqual(errorsOf({}, facts({ passkeyRpIds: ['id.example.com', null] })), []);
    assert.deepEqual(errorsOf({}, facts({ passkeyRpIds: ['login.example.org'] })), ['passkeys']);
  });

  it('fails unapplied migrations only when no start will apply them', () => {
    assert.deepEqual(errorsOf({}, facts({ pendingMigrations: ['20261201_x'] })), []);
    assert.deepEqual(errorsOf({ MIGRATE_ON_START: 'false' }, facts({ pendingMigrations: ['20261201_x'] })), [
      'database',
    ]);
  });

  it('fails an https issuer behind an untrusted proxy, and warns of a key in the environment', () => {
    assert.deepEqual(errorsOf({ TRUST_PROXY: 'false' }, facts()), ['proxy']);
    const findings = reviewDeployment(loadConfig(production), production, facts());
    assert.ok(findings.some((finding) => finding.area === 'keys' && finding.level === 'warning'));
  });

  it('warns of a Redis that keeps nothing and has no replica, not of one with a replica', () => {
    const review = (cache: DeploymentFacts['cache']) =>
      reviewDeployment(loadConfig(production), production, { ...facts(), cache }).find((f) => f.area === 'redis');
    assert.equal(review({ persistent: false, replicas: 0 })?.level, 'warning');
    assert.equal(review({ persistent: false, replicas: 1 })?.level, 'ok');
    assert.equal(review(new Error('connection refused'))?.level, 'error');
  });
});
