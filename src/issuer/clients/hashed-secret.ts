import Provider from 'oidc-provider';
import { clientSecretMatches } from './client-secrets.ts';
import { KEY_KINDS } from '../api-keys/key-format.ts';
import { serviceKeyPermissions } from '../oidc/resource-servers.ts';

/** A service key's permissions when it is a valid key of this client now; undefined otherwise. */
export type ServiceKeyCheck = (
  presented: string,
  clientId: string,
  ip: string,
) => Promise<ReadonlySet<string> | undefined>;

/**
 * Client secrets are stored as SHA-256 hashes: compare the hash of what was presented, in constant
 * time, and only through the method the client registered. oidc-provider accepts
 * client_secret_basic and client_secret_post interchangeably; a client registered for one must not
 * be able to authenticate with the other (a secret in a form body ends up in places an
 * Authorization header does not). A service key (`lk_svc_`) of the client also authenticates it,
 * and narrows what this request's tokens may carry to the key's permissions.
 */
function hashedSecretComparison(serviceKey: ServiceKeyCheck | undefined) {
  return async function compareHashedSecret(
    this: { clientId: string; clientSecret?: string; clientAuthMethod?: string },
    presented: string,
  ): Promise<boolean> {
    const ctx = Provider.ctx;
    const used = ctx?.oidc.params?.client_secret !== undefined ? 'client_secret_post' : 'client_secret_basic';
    if (this.clientAuthMethod !== used) return false;
    if (serviceKey && ctx && presented.startsWith(KEY_KINDS.service)) {
      const permissions = await serviceKey(presented, this.clientId, ctx.ip);
      if (permissions) serviceKeyPermissions.set(ctx, permissions);
      return permissions !== undefined;
    }
    return typeof this.clientSecret === 'string' && clientSecretMatches(presented, this.clientSecret);
  };
}

/** Installs the comparison on a provider instance (each key reload builds a new one). */
export function installHashedSecretComparison(provider: Provider, serviceKey?: ServiceKeyCheck): void {
  provider.Client.prototype.compareClientSecret = hashedSecretComparison(serviceKey);
}
