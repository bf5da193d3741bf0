import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasRecentSecondFactor } from '../../src/shared/auth/step-up.ts';

const NOW = 1_800_000_000;
const person = (amr: string[], authTime: number | undefined = NOW - 60) => ({
  kind: 'user' as const,
  sub: '6f1e2d3c-0000-4000-8000-000000000001',
  clientId: 'app',
  roles: new Set<string>(),
  scopes: new Set<string>(),
  authTime,
  amr,
});

describe('step-up (a recent second factor)', () => {
  it('counts a passkey sign-in, alone or after a password, as a second factor', () => {
    assert.equal(hasRecentSecondFactor(person(['hwk', 'user']), 900, NOW), true);
    assert.equal(hasRecentSecondFactor(person(['pwd', 'hwk']), 900, NOW), true);
  });

  it('does not count a password alone, or a second factor older than the limit', () => {
    assert.equal(hasRecentSecondFactor(person(['pwd']), 900, NOW), false);
    assert.equal(hasRecentSecondFactor(person(['pwd', 'otp'], NOW - 901), 900, NOW), false);
  });
});
