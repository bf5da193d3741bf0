import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Mailer } from '../../src/accounts/mail/mailer.ts';
import { passkeyOffer } from '../../src/accounts/sign-in/passkey-offer.ts';
import type { CompletedSignIn } from '../../src/accounts/sign-in/sign-in.ts';
import type { UserRow } from '../../src/accounts/user-repository.ts';
import { MemoryCache } from '../../src/shared/cache/memory-cache.ts';

/** An offer over an account that has `passkeys` passkeys and was offered one when `offered` is set. */
function offerFor({ passkeys = 0, offered = false } = {}) {
  const account = { id: 'user-1', email: 'ada@example.com', passkeyOfferedAt: offered ? new Date() : null };
  const offer = passkeyOffer({
    cache: new MemoryCache(),
    users: {
      findById: async () => account as UserRow,
      claimPasskeyOffer: async () => {
        if (account.passkeyOfferedAt) return false;
        account.passkeyOfferedAt = new Date();
        return true;
      },
    },
    passkeys: {
      has: async () => passkeys > 0,
      registrationOptions: async () => ({}) as never,
      register: async () => undefined,
    },
    mailer: { send: () => undefined } as unknown as Mailer,
    issuerUrl: 'https://id.example.com',
  });
  return { offer, account };
}

const withPassword: CompletedSignIn = { accountId: 'user-1', amr: ['pwd'], acr: 'urn:latchkey:pwd' };

describe('the passkey offer after a sign-in', () => {
  it('offers after a password sign-in on a browser that can make a passkey, and holds the sign-in', async () => {
    const { offer, account } = offerFor();
    assert.equal(await offer.hold('sign-in-1', withPassword, true), true);
    assert.ok(account.passkeyOfferedAt, 'the account is marked offered');
    assert.equal(await offer.isHeld('sign-in-1'), true);
    assert.deepEqual(await offer.decline('sign-in-1'), withPassword);
    assert.equal(await offer.decline('sign-in-1'), undefined, 'a held sign-in is released once');
  });

  it('offers once in an account’s life', async () => {
    const { offer } = offerFor();
    assert.equal(await offer.hold('sign-in-1', withPassword, true), true);
    assert.equal(await offer.hold('sign-in-2', withPassword, true), false);
    assert.equal(await offer.isHeld('sign-in-2'), false);
  });

  it('does not offer on a browser that cannot make a passkey, and keeps the offer for one that can', async () => {
    const { offer, account } = offerFor();
    assert.equal(await offer.hold('sign-in-1', withPassword, false), false);
    assert.equal(account.passkeyOfferedAt, null);
  });

  it('does not offer to an account that has a passkey, or after a sign-in without a password', async () => {
    assert.equal(await offerFor({ passkeys: 1 }).offer.hold('sign-in-1', withPassword, true), false);
    const byLink: CompletedSignIn = { accountId: 'user-1', amr: ['email'], acr: 'urn:latchkey:email' };
    assert.equal(await offerFor().offer.hold('sign-in-1', byLink, true), false);
  });

  it('keeps the offer standing when the new passkey does not check out', async () => {
    const { offer } = offerFor();
    await offer.hold('sign-in-1', withPassword, true);
    const answer = await offer.accept('sign-in-1', { id: 'x' } as never, '198.51.100.9');
    assert.deepEqual(answer, { outcome: 'not-added' });
    assert.equal(await offer.isHeld('sign-in-1'), true);
  });
});
