import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profileClaims, ProfileInput } from '../../src/accounts/profile.ts';
import type { UserRow } from '../../src/accounts/user-repository.ts';

const problem = (input: Record<string, string>) => {
  const parsed = ProfileInput.partial().safeParse(input);
  return parsed.success ? undefined : parsed.error.issues[0]?.message;
};

describe('profile fields', () => {
  it('accepts the standard claims in their usual spellings, trimmed', () => {
    const parsed = ProfileInput.partial().parse({
      name: '  Ada Lovelace ',
      preferred_username: 'ada.l',
      picture: 'https://example.com/ada.png',
      locale: 'en-GB',
      zoneinfo: 'Europe/London',
    });
    assert.equal(parsed.name, 'Ada Lovelace');
    assert.equal(parsed.zoneinfo, 'Europe/London');
  });

  it('reads an empty field as "remove it"', () => {
    assert.deepEqual(ProfileInput.partial().parse({ name: '   ', locale: '' }), { name: null, locale: null });
  });

  it('refuses a picture that is not https, a username with spaces, an unknown time zone or locale, control characters', () => {
    assert.match(problem({ picture: 'http://example.com/a.png' })!, /https/);
    assert.match(problem({ picture: 'javascript:alert(1)' })!, /https/);
    assert.match(problem({ preferred_username: 'ada lovelace' })!, /letters, digits/);
    assert.match(problem({ zoneinfo: 'Mars/Olympus' })!, /time zone/);
    assert.match(problem({ locale: 'not a locale!' })!, /language tag/);
    assert.match(problem({ name: 'Ada\u0000Lovelace' })!, /printable/);
    assert.match(problem({ name: 'x'.repeat(201) })!, /at most 200/);
  });

  it('gives claims only for the fields that are set, with updated_at in seconds', () => {
    const user = {
      name: 'Ada',
      givenName: null,
      familyName: null,
      preferredUsername: null,
      picture: null,
      locale: 'en',
      zoneinfo: null,
      profileUpdatedAt: new Date(1_700_000_000_500),
    } as UserRow;
    assert.deepEqual(profileClaims(user), { name: 'Ada', locale: 'en', updated_at: 1_700_000_000 });
  });
});
