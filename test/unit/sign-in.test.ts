import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { LockStore } from '../../src/accounts/lock-repository.ts';
import { lockout } from '../../src/accounts/lockout.ts';
import type { Mailer, MailMessage } from '../../src/accounts/mail/mailer.ts';
import { passwordHasher } from '../../src/accounts/passwords.ts';
import type { SecondFactor } from '../../src/accounts/second-factor.ts';
import type { SecurityEvent, SecurityEvents } from '../../src/accounts/security-events.ts';
import { passwordSignIn } from '../../src/accounts/sign-in/password-sign-in.ts';
import { secondFactorStep } from '../../src/accounts/sign-in/second-factor-step.ts';
import { signInCore, type Requester } from '../../src/accounts/sign-in/sign-in.ts';
import type { UserRepository, UserRow } from '../../src/accounts/user-repository.ts';
import { MemoryCache } from '../../src/shared/cache/memory-cache.ts';

/**
 * The sign-in service on its own: no HTTP, no database. The accounts it checks live in a map, the
 * second factor accepts one code, and the lockout and the pending-second-factor store run on the
 * in-process cache they run on in the embedded mode.
 */
const PASSWORD = 'correct horse battery staple';
const CODE = '123456';
const weakHasher = passwordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
const hasher = passwordHasher({ memoryCost: 2048, timeCost: 1, parallelism: 1 });
const requester: Requester = { ip: '192.0.2.1', trustedDevice: () => undefined };

function world() {
  const cache = new MemoryCache();
  const users = new Map<string, UserRow>();
  const events: SecurityEvent[] = [];
  const mail: MailMessage[] = [];
  const locks = new Map<string, Date>();
  const lockStore: LockStore = {
    save: async (scope, until) => void locks.set(scope, until),
    lockedUntil: async (scope) => ((locks.get(scope)?.getTime() ?? 0) > Date.now() ? locks.get(scope) : undefined),
    clear: async (scopes) => scopes.forEach((scope) => locks.delete(scope)),
  };
  const repository = {
    findByEmail: async (email: string) => [...users.values()].find((user) => user.email === email) ?? null,
    findById: async (id: string) => users.get(id) ?? null,
    setPasswordHash: async (id: string, passwordHash: string) =>
      void users.set(id, { ...users.get(id)!, passwordHash }),
  } as unknown as UserRepository;
  const factors = {
    verifyCode: async (_userId: string, code: string) => code === CODE,
    useRecoveryCode: async (_userId: string, code: string) => code === 'abcde-fghij',
  } as unknown as SecondFactor;
  const securityEvents = {
    record: async (event: SecurityEvent) => void events.push(event),
  } as unknown as SecurityEvents;
  const mailer = { send: (message: MailMessage) => void mail.push(message) } as unknown as Mailer;
  const failures = lockout(cache, lockStore, {
    maxFailures: 5,
    windowSeconds: 900,
    baseLockSeconds: 900,
    maxLockSeconds: 86_400,
    ipMaxFailures: 100,
  });
  const core = signInCore({
    cache,
    lockout: failures,
    events: securityEvents,
    mailer,
    issuerUrl: 'https://id.example.com',
  });
  const password = passwordSignIn({
    users: repository,
    passwords: hasher,
    lockout: failures,
    secondFactor: factors,
    core,
  });
  // No passkeys in these rules: the passkey paths run in Chromium (test/e2e/passkeys.test.ts).
  const noPasskeys = {
    has: async () => false,
    secondFactorOptions: () => Promise.reject(new Error('no passkeys here')),
    secondFactor: () => Promise.reject(new Error('no passkeys here')),
  };
  const secondFactor = secondFactorStep({
    users: repository,
    secondFactor: factors,
    passkeys: noPasskeys,
    events: securityEvents,
    core,
  });
  async function addUser(email: string, extra: Partial<UserRow> = {}, passwords = hasher): Promise<UserRow> {
    const user = {
      id: `user-${users.size + 1}`,
      email,
      passwordHash: await passwords.hash(PASSWORD),
      emailVerified: true,
      disabledAt: null,
      totpEnabledAt: null,
      ...extra,
    } as UserRow;
    users.set(user.id, user);
    return user;
  }
  return { cache, users, events, mail, password, secondFactor, addUser };
}

describe('sign-in service', () => {
  let w: ReturnType<typeof world>;
  beforeEach(() => {
    w = world();
  });
  afterEach(() => w.cache.close());

  it('signs in with the right password: amr pwd, the single-factor acr, a success in the log', async () => {
    const user = await w.addUser('ada@example.com');
    const result = await w.password.checkPassword('sign-in-1', 'ada@example.com', PASSWORD, requester);
    assert.deepEqual(result, {
      outcome: 'signed-in',
      signIn: { accountId: user.id, amr: ['pwd'], acr: 'urn:latchkey:pwd' },
    });
    assert.deepEqual(
      w.events.map((event) => event.type),
      ['sign_in.succeeded'],
    );
  });

  it('refuses a wrong password, an unknown address and a disabled account with the same outcome', async () => {
    await w.addUser('ada@example.com');
    await w.addUser('off@example.com', { disabledAt: new Date() });
    const results = [
      await w.password.checkPassword('s1', 'ada@example.com', 'wrong password here', requester),
      await w.password.checkPassword('s2', 'nobody@example.com', PASSWORD, requester),
      await w.password.checkPassword('s3', 'off@example.com', PASSWORD, requester),
    ];
    assert.deepEqual(results, [{ outcome: 'refused' }, { outcome: 'refused' }, { outcome: 'refused' }]);
    const reasons = w.events.map((event) => event.detail?.reason);
    assert.deepEqual(reasons, ['wrong_password', 'unknown_email', 'disabled']);
  });

  it('asks for the second factor after the password, then signs in with both methods and the multi-factor acr', async () => {
    const user = await w.addUser('ada@example.com', { totpEnabledAt: new Date() });
    assert.deepEqual(await w.password.checkPassword('s1', 'ada@example.com', PASSWORD, requester), {
      outcome: 'second-factor-needed',
    });
    assert.equal(await w.secondFactor.isPending('s1'), true);
    assert.equal(await w.secondFactor.isPending('another-sign-in'), false);
    const result = await w.secondFactor.check('s1', { code: CODE }, requester);
    assert.deepEqual(result, {
      outcome: 'signed-in',
      signIn: { accountId: user.id, amr: ['pwd', 'otp'], acr: 'urn:latchkey:mfa' },
    });
    assert.equal(await w.secondFactor.isPending('s1'), false, 'the pending state is spent');
  });

  it('records a recovery code as amr mfa', async () => {
    await w.addUser('ada@example.com', { totpEnabledAt: new Date() });
    await w.password.checkPassword('s1', 'ada@example.com', PASSWORD, requester);
    const result = await w.secondFactor.check('s1', { recoveryCode: 'abcde-fghij' }, requester);
    assert.equal(result.outcome === 'signed-in' && result.signIn.amr.join(' '), 'pwd mfa');
    assert.ok(w.events.some((event) => event.type === 'recovery_code.used'));
  });

  it('answers a second factor with no first factor waiting as expired', async () => {
    assert.deepEqual(await w.secondFactor.check('never-started', { code: CODE }, requester), { outcome: 'expired' });
  });

  it('tells the next attempt to wait after two failures, without checking the password', async () => {
    await w.addUser('ada@example.com');
    await w.password.checkPassword('s1', 'ada@example.com', 'wrong one', requester);
    await w.password.checkPassword('s1', 'ada@example.com', 'wrong two', requester);
    const result = await w.password.checkPassword('s1', 'ada@example.com', PASSWORD, requester);
    assert.equal(result.outcome, 'retry-later');
  });

  it('upgrades a hash made with weaker parameters while it holds the password', async () => {
    const user = await w.addUser('ada@example.com', {}, weakHasher);
    assert.ok(hasher.needsRehash(user.passwordHash!));
    await w.password.checkPassword('s1', 'ada@example.com', PASSWORD, requester);
    assert.equal(hasher.needsRehash(w.users.get(user.id)!.passwordHash!), false);
  });

  it('confirms the holder of a signed-in account by password or by a current code', async () => {
    const user = await w.addUser('ada@example.com');
    assert.equal(await w.password.confirmHolder(user, PASSWORD, requester.ip), true);
    assert.equal(await w.password.confirmHolder(user, CODE, requester.ip), true);
    assert.equal(await w.password.confirmHolder(user, '654321', requester.ip), false);
  });
});
