import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { oidcRecordRepository } from '../../src/issuer/oidc/oidc-record-repository.ts';
import { startIssuer, type IssuerHarness } from '../support/issuer-harness.ts';

describe('the expired-record sweeper', () => {
  let issuer: IssuerHarness;
  before(async () => {
    issuer = await startIssuer();
  });
  after(() => issuer.stop());

  const seed = async (prefix: string, count: number, expiresAt: Date) =>
    issuer.service.database.client.oidcRecord.createMany({
      data: Array.from({ length: count }, (_, index) => ({
        kind: 'RefreshToken',
        idHash: `${prefix}-${index}`,
        payload: {},
        expiresAt,
      })),
    });
  const left = (prefix: string) =>
    issuer.service.database.client.oidcRecord.count({ where: { idHash: { startsWith: `${prefix}-` } } });

  it('deletes expired records in bounded batches, leaves the rest for the next sweep, and never a live one', async () => {
    const records = oidcRecordRepository(issuer.service.database.client);
    const longAgo = new Date(Date.now() - 7 * 86_400_000);
    await seed('expired', 2_500, longAgo);
    await seed('live', 3, new Date(Date.now() + 86_400_000));
    const cutoff = new Date(Date.now() - 86_400_000);

    assert.equal(await records.deleteExpired(cutoff, { batchSize: 1_000, maxBatches: 2, pauseMs: 0 }), 2_000);
    assert.equal(await left('expired'), 500, 'the sweep stopped at its bound');
    assert.equal(await records.deleteExpired(cutoff, { batchSize: 1_000, maxBatches: 2, pauseMs: 0 }), 500);
    assert.equal(await left('expired'), 0);
    assert.equal(await left('live'), 3);
  });
});
