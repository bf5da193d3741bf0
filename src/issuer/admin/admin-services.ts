import type { Passkeys } from '../../accounts/passkeys.ts';
import type { Context } from 'koa';
import type { AccountCreationService } from '../../accounts/account-creation.ts';
import type { Lockout } from '../../accounts/lockout.ts';
import type { PasswordReset } from '../../accounts/password-reset.ts';
import type { Profiles } from '../../accounts/profile.ts';
import type { SecurityEvent, SecurityEvents } from '../../accounts/security-events.ts';
import type { UserRepository } from '../../accounts/user-repository.ts';
import type { Cache } from '../../shared/cache/cache.ts';
import type { PrismaClient } from '../../shared/database/generated/issuer/client.ts';
import type { ApiService } from '../apis/api-service.ts';
import type { AccountAccess } from '../account/account-access.ts';
import type { clientService } from '../clients/client-service.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import type { RoleService } from '../roles/role-service.ts';
import type { Webhooks } from '../webhooks/webhooks.ts';
import type { ApiKeys } from '../api-keys/api-keys.ts';
import type { UpstreamProviders } from '../federation/upstream-providers.ts';
import { actorLabel, type AdminActor } from './admin-actor.ts';

/** The services the admin API acts through: the same ones the pages and the provider use. */
export interface AdminServices {
  db: PrismaClient;
  cache: Cache;
  users: UserRepository;
  accounts: AccountCreationService;
  profiles: Profiles;
  lockout: Pick<Lockout, 'unlock'>;
  reset: Pick<PasswordReset, 'request'>;
  access: AccountAccess;
  clients: ReturnType<typeof clientService>;
  apis: ApiService;
  roles: RoleService;
  keys: Pick<KeyRing, 'list' | 'rotate' | 'ensureKeys'>;
  publishLeadSeconds: number;
  events: SecurityEvents;
  passkeys: Pick<Passkeys, 'list' | 'removeAny'>;
  webhooks: Webhooks;
  apiKeys: ApiKeys;
  upstreams: UpstreamProviders;
  issuerUrl: string;
}

/** Records a change in the security log, naming who made it (never a secret). */
export async function audit(
  services: Pick<AdminServices, 'events'>,
  actor: AdminActor,
  ctx: Context,
  event: Omit<SecurityEvent, 'actor' | 'ip'>,
): Promise<void> {
  await services.events.record({ ...event, actor: actorLabel(actor), ip: ctx.ip });
}
