import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider from 'oidc-provider';
import type { Logger } from '../../shared/logging/logger.ts';
import { clientSecretMatches } from '../clients/client-secrets.ts';
import type { KeyRing, KeySet } from '../keys/key-ring.ts';
import { advertisePollInterval } from './device-flow.ts';
import { revokeGrantsOnLogout } from './logout-revocation.ts';
import { providerConfiguration, type ProviderDependencies } from './provider-configuration.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface ProviderHostOptions {
  keyRing: KeyRing;
  dependencies: Omit<ProviderDependencies, 'keys'>;
  trustProxy: boolean;
  log: Logger;
  reloadIntervalSeconds: number;
  rotationIntervalDays: number;
  revokeGrant: (grantId: string) => Promise<void>;
}

/**
 * Holds the live oidc-provider instance. oidc-provider reads its keys once, at construction, so a
 * key change (rotation here or on another instance, or a key activating by the clock) builds a new
 * instance and swaps it in; requests in flight finish on the old one. All state lives in the adapter,
 * so the two instances are interchangeable.
 */
export class ProviderHost {
  #provider!: Provider;
  #handler!: Handler;
  #fingerprint = '';
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #options: ProviderHostOptions;

  private constructor(options: ProviderHostOptions) {
    this.#options = options;
  }

  static async start(options: ProviderHostOptions): Promise<ProviderHost> {
    const host = new ProviderHost(options);
    const created = await options.keyRing.ensureKeys();
    if (created.length) options.log.info({ kids: created }, 'generated the first signing keys');
    await host.reload();
    return host;
  }

  get provider(): Provider {
    return this.#provider;
  }

  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.#handler(req, res);
  }

  #install(keys: KeySet): void {
    const provider = new Provider(this.#options.dependencies.settings.issuerUrl, providerConfiguration({ ...this.#options.dependencies, keys }));
    provider.proxy = this.#options.trustProxy;
    // Secrets are stored as SHA-256 hashes: compare the hash of what was presented, in constant time.
    provider.Client.prototype.compareClientSecret = function compareHashedSecret(this: { clientSecret?: string }, presented: string) {
      return Promise.resolve(typeof this.clientSecret === 'string' && clientSecretMatches(presented, this.clientSecret));
    };
    provider.use(advertisePollInterval(this.#options.dependencies.settings.devicePollIntervalSeconds));
    provider.use(revokeGrantsOnLogout(this.#options.revokeGrant));
    provider.on('server_error', (_ctx, error) => this.#options.log.error({ err: error }, 'oidc-provider server error'));
    this.#provider = provider;
    this.#handler = provider.callback();
    this.#fingerprint = keys.fingerprint;
  }

  /** Re-reads the keys; rebuilds the provider only if what it would sign or publish changed. */
  async reload(): Promise<boolean> {
    const { log, keyRing, rotationIntervalDays } = this.#options;
    const rotated = await keyRing.rotateIfDue(rotationIntervalDays).catch((error: unknown) => {
      log.error({ err: error }, 'scheduled key rotation failed');
      return [];
    });
    if (rotated.length) log.info({ kids: rotated }, 'rotated signing keys on schedule');
    const keys = await keyRing.load();
    const changed = keys.fingerprint !== this.#fingerprint;
    if (changed) {
      const first = this.#fingerprint === '';
      this.#install(keys);
      if (!first) log.info({ keys: keys.fingerprint }, 'signing keys changed; provider reloaded');
    }
    this.#schedule(keys.nextTransition);
    return changed;
  }

  /** Polls for changes made elsewhere, and wakes exactly when a key activates, retires or leaves. */
  #schedule(nextTransition: Date | undefined): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    let delay = this.#options.reloadIntervalSeconds * 1000;
    if (nextTransition) delay = Math.min(delay, Math.max(0, nextTransition.getTime() - Date.now()) + 50);
    this.#timer = setTimeout(() => {
      this.reload().catch((error: unknown) => {
        this.#options.log.warn({ errMessage: (error as Error).message }, 'could not reload signing keys; will retry');
        this.#schedule(undefined);
      });
    }, delay);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
