import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../../shared/logging/logger.ts';
import type { KeyRing, KeySet } from '../keys/key-ring.ts';
import { canonicalTokenSpelling } from './canonical-tokens.ts';
import { installHashedSecretComparison } from '../clients/hashed-secret.ts';
import { consumeCodeOnFailedRedemption } from './code-redemption.ts';
import { advertisePollInterval, recoverSessionlessDeviceForm } from './device-flow.ts';
import { retryAfterOnUnavailable } from './outage-errors.ts';
import { protocolConformance } from './protocol-conformance.ts';
import { securityHeaders } from './security-headers.ts';
import { revokeGrantsOnLogout } from './logout-revocation.ts';
import { exchangeResourceServers, providerConfiguration, type ProviderDependencies } from './provider-configuration.ts';
import { installTokenExchange } from './token-exchange.ts';
import { publishedDocuments, type PublishedDocuments } from './published-documents.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const REQUEST_ID = Symbol('latchkey.requestId');
/** The id our request context gave a request, carried on the request object into the provider's own logs. */
export const tagRequestId = (req: IncomingMessage, requestId: string) =>
  Object.assign(req, { [REQUEST_ID]: requestId });
const requestIdOf = (req: IncomingMessage) => (req as IncomingMessage & { [REQUEST_ID]?: string })[REQUEST_ID];

export interface ProviderHostOptions {
  keyRing: KeyRing;
  dependencies: Omit<ProviderDependencies, 'keys'>;
  log: Logger;
  reloadIntervalSeconds: number;
  rotationIntervalDays: number;
  /** How long a new signing key is published before it signs (bounds how long a JWKS may be cached). */
  publishLeadSeconds: number;
  revokeGrant: (grantId: string) => Promise<void>;
  /** Attaches listeners to each provider instance built (metrics); called again after a key change. */
  observe?: (provider: Provider) => void;
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
  #keys: KeySet | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #inFlight: Promise<void> | undefined;
  readonly #options: ProviderHostOptions;
  /** Discovery and the JWKS as bytes, built by the provider once per key set. */
  readonly published: PublishedDocuments;

  private constructor(options: ProviderHostOptions) {
    this.#options = options;
    const exchange = options.dependencies.tokenExchange;
    this.published = publishedDocuments({
      keysVersion: () => this.#fingerprint,
      exchangeAdvertised: async () => (exchange ? exchange.anyClientExchanges() : false),
      publishLeadSeconds: options.publishLeadSeconds,
    });
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

  /**
   * Hands a request to the provider as if it had come straight to ISSUER_URL from `clientIp`.
   * oidc-provider builds every URL it publishes or checks (discovery, device verification_uri,
   * DPoP htu, redirects) from the request; the edge has already refused other hosts and resolved the
   * client's address through the trusted proxies, and the provider sees only those settled values,
   * never what the client wrote into Host or X-Forwarded-*.
   */
  handle(req: IncomingMessage, res: ServerResponse, clientIp: string): Promise<void> {
    const issuer = new URL(this.#options.dependencies.settings.issuerUrl);
    delete req.headers.forwarded;
    req.headers.host = issuer.host;
    req.headers['x-forwarded-host'] = issuer.host;
    req.headers['x-forwarded-proto'] = issuer.protocol.slice(0, -1);
    req.headers['x-forwarded-for'] = clientIp;
    return this.#handler(req, res);
  }

  #install(keys: KeySet): void {
    const provider = new Provider(
      this.#options.dependencies.settings.issuerUrl,
      providerConfiguration({ ...this.#options.dependencies, keys }),
    );
    // Always "behind a proxy": handle() sets the forwarded headers to the settled values.
    provider.proxy = true;
    provider.maxIpsCount = 1;
    // First, so that it stores the documents as every later step left them.
    provider.use(this.published.capture);
    provider.use(securityHeaders());
    installHashedSecretComparison(provider, this.#options.dependencies.serviceKey);
    const { tokenExchange } = this.#options.dependencies;
    if (tokenExchange) {
      const resources = exchangeResourceServers(this.#options.dependencies);
      installTokenExchange(provider, tokenExchange, (ctx, resource, client) =>
        resources.getResourceServerInfo(ctx, resource, client as KoaContextWithOIDC['oidc']['client']),
      );
    }
    provider.use(consumeCodeOnFailedRedemption());
    provider.use(canonicalTokenSpelling());
    provider.use(protocolConformance());
    provider.use(recoverSessionlessDeviceForm(this.#options.dependencies.pages));
    provider.use(advertisePollInterval(this.#options.dependencies.settings.devicePollIntervalSeconds));
    provider.use(revokeGrantsOnLogout(this.#options.revokeGrant));
    provider.use(retryAfterOnUnavailable());
    provider.on('server_error', (ctx, error) =>
      this.#options.log.error({ err: error, requestId: requestIdOf(ctx.req) }, 'oidc-provider server error'),
    );
    // A refused authorization request says why in the log, not only `GET /auth 400`: the reason
    // (`redirect_uri did not match`...) and the client are what an operator needs to fix it.
    provider.on('authorization.error', (ctx, error) => {
      const { error: code, error_description: description } = error as { error?: string; error_description?: string };
      this.#options.log.info(
        { requestId: requestIdOf(ctx.req), clientId: ctx.oidc?.params?.client_id, error: code, description },
        'authorization request refused',
      );
    });
    this.#options.observe?.(provider);
    this.#provider = provider;
    this.#handler = provider.callback();
    this.#fingerprint = keys.fingerprint;
    this.#keys = keys;
  }

  /** The signing keys the provider publishes now (private members included: callers keep only the public ones). */
  publicKeys(): KeySet['jwks']['keys'] {
    return this.#keys?.jwks.keys ?? [];
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
      this.#inFlight = this.reload()
        .then(() => undefined)
        .catch((error: unknown) => {
          if (this.#stopped) return;
          this.#options.log.warn({ errMessage: (error as Error).message }, 'could not reload signing keys; will retry');
          this.#schedule(undefined);
        });
    }, delay);
    this.#timer.unref();
  }

  /** No reload is scheduled after this, and one already running has finished when it resolves. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }
}
