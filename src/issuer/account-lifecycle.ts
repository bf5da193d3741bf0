import type { Lockout } from '../accounts/lockout.ts';
import { eraseAddressesOf } from '../accounts/security-events.ts';
import { userRepository } from '../accounts/user-repository.ts';
import type { Cache } from '../shared/cache/cache.ts';
import type { PrismaClient } from '../shared/database/generated/issuer/client.ts';
import { accountRevoker } from './oidc/adapter.ts';
import { oidcRecordRepository } from './oidc/oidc-record-repository.ts';

/**
 * Disabling an account takes effect at once: the account stops being found (so no refresh, device
 * approval or session resumes), and every grant, refresh token and session it holds is deleted.
 */
export async function disableAccount(
  db: PrismaClient,
  cache: Cache,
  userId: string,
): Promise<{ revokedGrants: number }> {
  await userRepository(db).setDisabled(userId, new Date());
  const revokedGrants = await accountRevoker({ records: oidcRecordRepository(db), cache })(userId);
  return { revokedGrants };
}

/**
 * Deleting an account erases it and everything issued to it: first it is disabled (nothing it holds
 * works from that moment, on every instance), then its grants, refresh tokens and sessions are
 * deleted, its locks and counters cleared, and the account row removed with its second factor.
 * The security log keeps its lines (the audit trail outlives the account; they hold its id, never
 * its address or a secret) and loses the IP addresses the person acted from. Data other services keep about the subject (the task API's tasks) is
 * theirs to erase.
 */
export async function deleteAccount(
  db: PrismaClient,
  cache: Cache,
  lockout: Pick<Lockout, 'unlock'>,
  userId: string,
): Promise<{ revokedGrants: number; addressesErased: number }> {
  const { revokedGrants } = await disableAccount(db, cache, userId);
  await lockout.unlock(userId);
  await userRepository(db).delete(userId);
  const addressesErased = await eraseAddressesOf(db, userId);
  return { revokedGrants, addressesErased };
}
