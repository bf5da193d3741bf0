import { accountCreation } from '../accounts/account-creation.ts';
import { lockRepository } from '../accounts/lock-repository.ts';
import { lockout } from '../accounts/lockout.ts';
import { mailTokens, sendBudget } from '../accounts/mail-tokens.ts';
import type { Mailer } from '../accounts/mail/mailer.ts';
import { passwordPolicy } from '../accounts/password-policy.ts';
import { passwordReset } from '../accounts/password-reset.ts';
import { passwordHasher } from '../accounts/passwords.ts';
import { RECOVERY_CODE_KEY_PURPOSE, secondFactor } from '../accounts/second-factor.ts';
import type { SecurityEvents } from '../accounts/security-events.ts';
import { passkeyRepository } from '../accounts/passkey-repository.ts';
import { passkeys } from '../accounts/passkeys.ts';
import { magicLinkSignIn } from '../accounts/sign-in/magic-link.ts';
import { passkeyOffer } from '../accounts/sign-in/passkey-offer.ts';
import { passkeySignIn } from '../accounts/sign-in/passkey-sign-in.ts';
import { passwordSignIn } from '../accounts/sign-in/password-sign-in.ts';
import { secondFactorStep } from '../accounts/sign-in/second-factor-step.ts';
import { signInCore } from '../accounts/sign-in/sign-in.ts';
import { signUp } from '../accounts/sign-up.ts';
import type { UserRepository } from '../accounts/user-repository.ts';
import type { Cache } from '../shared/cache/cache.ts';
import type { Config } from '../shared/config/config.ts';
import { sealer, subkey } from '../shared/crypto/sealing.ts';
import type { PrismaClient } from '../shared/database/generated/issuer/client.ts';
import { accountRevoker } from './oidc/adapter.ts';
import type { OidcRecordRepository } from './oidc/oidc-record-repository.ts';

/** What the accounts domain's services are built on: the issuer's stores and settings. */
export interface AccountStores {
  config: Config;
  database: { client: PrismaClient };
  cache: Cache;
  users: UserRepository;
  records: OidcRecordRepository;
  events: SecurityEvents;
  mailer: Mailer;
  keyEncryptionKey: Buffer;
}

/** The accounts domain's services, built on the issuer's stores (one set per process). */
export function accountServices(parts: AccountStores) {
  const { config, database, cache, users, records, events, mailer, keyEncryptionKey: kek } = parts;
  const issuerUrl = config.issuer.url;
  const passwords = passwordHasher(config.issuer.passwords);
  const policy = passwordPolicy(config.issuer.passwords);
  const failures = lockout(cache, lockRepository(database.client), config.issuer.lockout);
  const factors = secondFactor({ users, sealer: sealer(kek), recoveryCodeKey: subkey(kek, RECOVERY_CODE_KEY_PURPOSE) });
  const links = mailTokens(cache);
  const budget = sendBudget(cache, { perAddress: 5, perIp: 30, windowSeconds: 900 });
  const signOutEverywhere = accountRevoker({ records, cache });
  const accounts = accountCreation({ users, passwords, policy, events });
  const keys = passkeys({
    repository: passkeyRepository(database.client),
    cache,
    events,
    users,
    relyingParty: { id: config.issuer.webauthn.rpId, name: 'Latchkey', origins: config.issuer.webauthn.origins },
  });
  const core = signInCore({ cache, lockout: failures, events, mailer, issuerUrl, hasPasskey: keys.has });
  return {
    passkeys: keys,
    passkey: passkeySignIn({ passkeys: keys, core }),
    passkeyOffer: passkeyOffer({ cache, users, passkeys: keys, mailer, issuerUrl }),
    passwords,
    policy,
    factors,
    password: passwordSignIn({ users, passwords, lockout: failures, secondFactor: factors, core }),
    secondFactor: secondFactorStep({ users, secondFactor: factors, passkeys: keys, events, core }),
    magicLink: magicLinkSignIn({
      users,
      links,
      budget,
      mailer,
      events,
      cache,
      core,
      ttlSeconds: config.issuer.magicLinkTtlSeconds,
    }),
    reset: passwordReset({
      ...{ users, passwords, policy, lockout: failures, links, budget, mailer, events, signOutEverywhere, issuerUrl },
      ttlSeconds: config.issuer.passwordResetTtlSeconds,
    }),
    signUp: signUp({ users, accounts, links, budget, mailer, events, issuerUrl }),
    accounts,
    lockout: failures,
    /** The steps every sign-in strategy shares (sign-in through other providers is built on it too). */
    core,
  };
}

export type AccountServices = ReturnType<typeof accountServices>;
