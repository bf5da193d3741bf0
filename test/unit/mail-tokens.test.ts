import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { mailTokens, sendBudget } from '../../src/accounts/mail-tokens.ts';
import { MemoryCache } from '../../src/shared/cache/memory-cache.ts';

describe('mail tokens', () => {
  let cache = new MemoryCache();
  afterEach(async () => {
    await cache.close();
    cache = new MemoryCache();
  });

  it('finds a token by peeking as often as asked, and uses it exactly once', async () => {
    const tokens = mailTokens(cache);
    const token = await tokens.issue('password_reset', 'user-1', { note: 'x' }, 600);
    assert.equal((await tokens.peek('password_reset', token))?.subject, 'user-1');
    assert.equal((await tokens.peek('password_reset', token))?.subject, 'user-1');
    const used = await Promise.all([tokens.consume('password_reset', token), tokens.consume('password_reset', token)]);
    assert.equal(used.filter(Boolean).length, 1, 'of two parallel uses, one gets the record');
    assert.equal(await tokens.peek('password_reset', token), undefined);
  });

  it('never finds a token under another purpose', async () => {
    const tokens = mailTokens(cache);
    const token = await tokens.issue('password_reset', 'user-1', {}, 600);
    assert.equal(await tokens.peek('magic_link', token), undefined);
    assert.equal(await tokens.consume('email_verification', token), undefined);
  });

  it('voids the earlier token of a subject when a newer one is issued', async () => {
    const tokens = mailTokens(cache);
    const first = await tokens.issue('magic_link', 'user-1', {}, 600);
    const second = await tokens.issue('magic_link', 'user-1', {}, 600);
    assert.equal(await tokens.peek('magic_link', first), undefined);
    assert.ok(await tokens.peek('magic_link', second));
  });

  it('keeps every token alive when issued with newestOnly false (a stranger cannot void the owner’s link)', async () => {
    const tokens = mailTokens(cache);
    const owners = await tokens.issue('email_verification', 'sign-up:a@example.com', {}, 600, { newestOnly: false });
    await tokens.issue('email_verification', 'sign-up:a@example.com', {}, 600, { newestOnly: false });
    assert.ok(await tokens.consume('email_verification', owners));
  });

  it('answers a malformed token with nothing, without reading the store', async () => {
    const tokens = mailTokens(cache);
    let reads = 0;
    const get = cache.get.bind(cache);
    cache.get = async (key) => ((reads += 1), get(key));
    assert.equal(await tokens.peek('password_reset', 'not-a-token'), undefined);
    assert.equal(await tokens.secondsLeft('password_reset', 'x'.repeat(44)), 0);
    assert.equal(reads, 0);
  });

  it('expires with its lifetime', async () => {
    let now = 1_000_000;
    const clocked = new MemoryCache({ now: () => now });
    const tokens = mailTokens(clocked);
    const token = await tokens.issue('password_reset', 'user-1', {}, 60);
    now += 61_000;
    assert.equal(await tokens.peek('password_reset', token), undefined);
    await clocked.close();
  });
});

describe('send budget', () => {
  it('allows a few mails per address, then refuses that address but not another', async () => {
    const cache = new MemoryCache();
    const budget = sendBudget(cache, { perAddress: 2, perIp: 100, windowSeconds: 900 });
    const answers = [];
    for (let i = 0; i < 3; i += 1) answers.push(await budget.allow('password_reset', 'A@example.com ', '192.0.2.1'));
    assert.deepEqual(answers, [true, true, false]);
    assert.equal(
      await budget.allow('password_reset', 'a@example.com', '192.0.2.1'),
      false,
      'the same address, spelled otherwise',
    );
    assert.equal(await budget.allow('password_reset', 'b@example.com', '192.0.2.1'), true);
    await cache.close();
  });

  it('refuses an address that has sent its share, across addresses', async () => {
    const cache = new MemoryCache();
    const budget = sendBudget(cache, { perAddress: 100, perIp: 2, windowSeconds: 900 });
    assert.equal(await budget.allow('sign_up', 'a@example.com', '192.0.2.9'), true);
    assert.equal(await budget.allow('sign_up', 'b@example.com', '192.0.2.9'), true);
    assert.equal(await budget.allow('sign_up', 'c@example.com', '192.0.2.9'), false);
    assert.equal(await budget.allow('sign_up', 'c@example.com', '192.0.2.10'), true);
    await cache.close();
  });
});
