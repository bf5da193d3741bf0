import Provider from 'oidc-provider';
import { clientSecretMatches } from './client-secrets.ts';

/**
 * Client secrets are stored as SHA-256 hashes: compare the hash of what was presented, in constant
 * time, and only through the method the client registered. oidc-provider accepts
 * client_secret_basic and client_secret_post interchangeably; a client registered for one must not
 * be able to authenticate with the other (a secret in a form body ends up in places an
 * Authorization header does not).
 */
function compareHashedSecret(
  this: { clientSecret?: string; clientAuthMethod?: string },
  presented: string,
): Promise<boolean> {
  const ctx = Provider.ctx;
  const used = ctx?.oidc.params?.client_secret !== undefined ? 'client_secret_post' : 'client_secret_basic';
  if (this.clientAuthMethod !== used) return Promise.resolve(false);
  return Promise.resolve(typeof this.clientSecret === 'string' && clientSecretMatches(presented, this.clientSecret));
}

/** Installs the comparison on a provider instance (each key reload builds a new one). */
export function installHashedSecretComparison(provider: Provider): void {
  provider.Client.prototype.compareClientSecret = compareHashedSecret;
}
