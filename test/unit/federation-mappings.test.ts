import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClaimMapping, mappedChanges, RoleMapping } from '../../src/accounts/federation/mappings.ts';

const mappings = {
  claims: [
    ClaimMapping.parse({ claim: 'name', field: 'name', sync: 'import' }),
    ClaimMapping.parse({ claim: 'locale', field: 'locale', sync: 'force' }),
  ],
  roles: [
    RoleMapping.parse({ claim: 'groups', value: 'admins', role: 'admin', sync: 'force' }),
    RoleMapping.parse({ claim: 'department', value: 'sales', role: 'sales', sync: 'import' }),
  ],
};

describe('federation mappings', () => {
  it('applies every mapping when the account is made', () => {
    const changes = mappedChanges(
      { name: 'Ada', locale: 'en-GB', groups: ['staff', 'admins'], department: 'sales' },
      mappings,
      'creation',
    );
    assert.deepEqual(changes.profile, { name: 'Ada', locale: 'en-GB' });
    assert.deepEqual(changes.grant.sort(), ['admin', 'sales']);
    assert.deepEqual(changes.revoke, []);
  });

  it('applies only forced mappings at a later sign-in, and gives up a forced role whose value is gone', () => {
    const changes = mappedChanges(
      { name: 'Someone else', locale: 'fr-FR', groups: ['staff'], department: 'sales' },
      mappings,
      'sign-in',
    );
    assert.deepEqual(changes.profile, { locale: 'fr-FR' });
    assert.deepEqual(changes.grant, []);
    assert.deepEqual(changes.revoke, ['admin']);
  });

  it('never gives up an imported role, and ignores claims that are not strings or lists of them', () => {
    const changes = mappedChanges({ groups: { admins: true }, name: 42 }, mappings, 'sign-in');
    assert.deepEqual(changes.revoke, ['admin']);
    assert.ok(!changes.revoke.includes('sales'));
  });

  it('refuses a mapping into a field that is not a profile field', () => {
    assert.throws(() => ClaimMapping.parse({ claim: 'email', field: 'email', sync: 'force' }));
  });
});
