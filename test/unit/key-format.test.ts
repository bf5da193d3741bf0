import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiKeys, type ApiKeyDependencies } from '../../src/issuer/api-keys/api-keys.ts';
import {
  generateKey,
  KEY_PATTERN,
  keyKindOf,
  visiblePrefix,
  type KeyKind,
} from '../../src/issuer/api-keys/key-format.ts';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_';

describe('API key format', () => {
  it('gives random keys of each kind that pass their own checksum and match the published pattern', () => {
    for (const kind of ['personal', 'service', 'clientSecret'] as KeyKind[]) {
      for (let i = 0; i < 200; i += 1) {
        const key = generateKey(kind);
        assert.equal(keyKindOf(key), kind);
        assert.match(key, KEY_PATTERN);
      }
    }
  });

  it('refuses every single-character change of a key, wherever it falls', () => {
    for (let round = 0; round < 5; round += 1) {
      const key = generateKey('personal');
      for (let at = 0; at < key.length; at += 1) {
        for (const replacement of ALPHABET) {
          if (replacement === key[at]) continue;
          const changed = key.slice(0, at) + replacement + key.slice(at + 1);
          assert.equal(keyKindOf(changed), undefined, `${changed} (position ${at}) passed`);
        }
      }
    }
  });

  it('refuses a truncated, extended or foreign key', () => {
    const key = generateKey('service');
    assert.equal(keyKindOf(key.slice(0, -1)), undefined);
    assert.equal(keyKindOf(`${key}0`), undefined);
    assert.equal(keyKindOf(`gh${key}`), undefined);
    assert.equal(keyKindOf(''), undefined);
  });

  it('shows people the kind and four characters, never enough to use', () => {
    const key = generateKey('personal');
    assert.equal(visiblePrefix(key), key.slice(0, 11));
    assert.match(visiblePrefix(key), /^lk_pat_[0-9A-Za-z]{4}$/);
  });

  it('draws 30 random characters with no visible bias', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i += 1)
      for (const char of generateKey('personal').slice(7, 37)) counts.set(char, (counts.get(char) ?? 0) + 1);
    assert.equal(counts.size, 62);
    const expected = (2000 * 30) / 62;
    for (const [char, count] of counts) assert.ok(Math.abs(count - expected) < expected * 0.25, `${char}: ${count}`);
  });
});

describe('API key checks', () => {
  it('refuses a key with a bad checksum without reading the database, the hashing secret or the roles', async () => {
    const touched: string[] = [];
    const untouchable = (name: string) =>
      new Proxy(() => undefined, {
        get: (_target, property) => (touched.push(`${name}.${String(property)}`), untouchable(name)),
        apply: () => (touched.push(name), Promise.reject(new Error(`${name} was read`))),
      });
    const keys = apiKeys({
      db: untouchable('db'),
      hashKey: untouchable('hashKey'),
      apis: untouchable('apis'),
      grantsOf: untouchable('grantsOf'),
      clientScopes: untouchable('clientScopes'),
      mailer: untouchable('mailer'),
      events: untouchable('events'),
      issuerUrl: 'https://id.example.com',
    } as unknown as ApiKeyDependencies);
    const key = generateKey('personal');
    const mangled = key.slice(0, -1) + (key.endsWith('0') ? '1' : '0');
    assert.deepEqual(await keys.authenticate(mangled, '192.0.2.1', 'personal'), { ok: false, reason: 'malformed' });
    assert.deepEqual(await keys.authenticate(generateKey('service'), '192.0.2.1', 'personal'), {
      ok: false,
      reason: 'malformed',
    });
    assert.equal(await keys.revokeLeaked(mangled), undefined);
    assert.deepEqual(touched, []);
  });
});
