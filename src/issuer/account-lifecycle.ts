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
