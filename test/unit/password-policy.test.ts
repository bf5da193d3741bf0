import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMON_PASSWORD_COUNT, passwordProblem } from '../../src/accounts/password-policy.ts';

describe('password policy', () => {
  it('accepts a long passphrase with no composition rules', () => {
    assert.equal(passwordProblem('correct horse battery staple', 'ada@example.com'), undefined);
    assert.equal(passwordProblem('all lower case words here', 'ada@example.com'), undefined);
  });

  it('refuses fewer than 12 characters, counting characters rather than bytes', () => {
    assert.match(passwordProblem('short pass', 'ada@example.com')!, /at least 12/);
    assert.equal(passwordProblem('ünïcödé pässwörd', 'ada@example.com'), undefined);
  });

  it('accepts 128 characters and refuses 129', () => {
    assert.equal(passwordProblem('a long passphrase '.repeat(8).slice(0, 128), 'ada@example.com'), undefined);
    assert.match(passwordProblem('x'.repeat(129), 'ada@example.com')!, /at most 128/);
  });

  it('refuses the email itself and passwords built on its name', () => {
    assert.match(passwordProblem('ada.lovelace@example.com', 'ada.lovelace@example.com')!, /email/);
    assert.match(passwordProblem('ada.lovelace1815!', 'ada.lovelace@example.com')!, /email/);
  });

  it('refuses passwords on the shipped list of common and breached passwords', () => {
    assert.ok(COMMON_PASSWORD_COUNT() > 40_000);
    assert.match(passwordProblem('1q2w3e4r5t6y', 'ada@example.com')!, /commonly used and breached/);
    assert.match(passwordProblem('Password1234', 'ada@example.com')!, /commonly used and breached/);
  });

  it('refuses repeated characters and sequences', () => {
    assert.match(passwordProblem('aaaaaaaaaaaaaa', 'ada@example.com')!, /too easy/);
    assert.match(passwordProblem('abcdefghijklmn', 'ada@example.com')!, /too easy|commonly/);
    assert.match(passwordProblem('098765432109', 'ada@example.com')!, /too easy|commonly/);
  });
});
