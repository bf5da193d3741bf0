import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { PasskeyRepository } from '../../src/accounts/passkey-repository.ts';
import { PASSKEY_FAILURE_LIMIT, passkeyName, passkeys } from '../../src/accounts/passkeys.ts';
import type { SecurityEvents } from '../../src/accounts/security-events.ts';
import { MemoryCache } from '../../src/shared/cache/memory-cache.ts';

const recorded: string[] = [];
const service = () =>
  passkeys({
    repository: { findByCredentialId: async () => null } as unknown as PasskeyRepository,
    cache: new MemoryCache(),
    events: {
      record: async (event: { detail?: { reason?: unknown } }) => void recorded.push(String(event.detail?.reason)),
    } as unknown as SecurityEvents,
    users: { findById: async () => null } as unknown as Parameters<typeof passkeys>[0]['users'],
    relyingParty: { id: 'id.example.com', name: 'Latchkey', origins: ['https://id.example.com'] },
  });
const forged = {
  id: 'AAAA',
  rawId: 'AAAA',
  type: 'public-key',
  response: {},
  clientExtensionResults: {},
} as unknown as AuthenticationResponseJSON;

describe('passkey sign-in rules', () => {
  it('refuses an assertion with no challenge of this sign-in, before any credential is looked at', async () => {
    recorded.length = 0;
    assert.deepEqual(await service().signIn('sign-in-1', forged, '198.51.100.9'), {
      outcome: 'refused',
      reason: 'no_challenge',
    });
    assert.deepEqual(recorded, ['no_challenge']);
  });

  it('stops checking assertions from an address after too many failures', async () => {
    const keys = service();
    for (let attempt = 0; attempt < PASSKEY_FAILURE_LIMIT.perIp; attempt += 1)
      assert.equal((await keys.signIn(`s-${attempt}`, forged, '198.51.100.7')).outcome, 'refused');
    const limited = await keys.signIn('one-more', forged, '198.51.100.7');
    assert.equal(limited.outcome, 'retry-later');
    assert.equal(
      (await keys.signIn('elsewhere', forged, '198.51.100.8')).outcome,
      'refused',
      'other addresses are not affected',
    );
  });

  it('names a passkey as the person typed it, tidied, and "Passkey" when they typed nothing', () => {
    assert.equal(passkeyName('  Work   laptop '), 'Work laptop');
    assert.equal(passkeyName(''), 'Passkey');
    assert.equal(passkeyName('x'.repeat(100)).length, 60);
  });
});
