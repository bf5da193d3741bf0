import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDestination, isForbiddenAddress, urlProblem } from '../../src/issuer/webhooks/address-guard.ts';
import { matchesEventTypes } from '../../src/issuer/webhooks/webhooks.ts';

const production = { httpsOnly: true, allowPrivate: false };

describe('webhook rules', () => {
  it('matches an exact type, a family and everything', () => {
    assert.ok(matchesEventTypes('sign_in.failed', ['sign_in.failed']));
    assert.ok(matchesEventTypes('passkey.removed', ['passkey.*']));
    assert.ok(matchesEventTypes('admin.user_created', ['*']));
    assert.ok(!matchesEventTypes('sign_in.succeeded', ['sign_in.failed', 'passkey.*']));
    assert.ok(!matchesEventTypes('sign_inx.failed', ['sign_in.*']));
  });

  it('refuses loopback, private, link-local (cloud metadata), unique-local and mapped addresses', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '100.64.0.1',
    ])
      assert.ok(isForbiddenAddress(address), address);
    for (const address of ['93.184.216.34', '2606:4700::1111']) assert.ok(!isForbiddenAddress(address), address);
  });

  it('wants https in production, and no credentials in the URL', () => {
    assert.match(urlProblem('http://hooks.example.com/x', production) ?? '', /https/);
    assert.match(urlProblem('https://user:pw@hooks.example.com/x', production) ?? '', /user name/);
    assert.equal(urlProblem('https://hooks.example.com/x', production), undefined);
  });

  it('resolves a name at each attempt and refuses one that points inside', async () => {
    const verdict = await checkDestination('https://localhost/x', production);
    assert.deepEqual(verdict, { allowed: false, reason: 'the host resolves to a private or local address' });
    assert.equal((await checkDestination('https://localhost/x', { ...production, allowPrivate: true })).allowed, true);
  });
});
