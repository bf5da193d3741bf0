import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDependencyFailure } from '../../src/shared/resilience/dependency-failure.ts';

describe('dependency failures', () => {
  it('counts a Redis Cluster between a primary failing and a replica taking over as a dependency failure', () => {
    for (const message of [
      'Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down',
      'CLUSTERDOWN Hash slot not served',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no',
    ])
      assert.ok(isDependencyFailure(new Error(message)), message);
  });

  it('does not count an error of the request or of our code', () => {
    assert.equal(isDependencyFailure(new Error('Cannot read properties of undefined')), false);
    assert.equal(isDependencyFailure(new TypeError('invalid input')), false);
  });
});
