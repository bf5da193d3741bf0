import type Provider from 'oidc-provider';
import type { SecurityEvent, SecurityEvents } from '../accounts/security-events.ts';
import type { Metrics } from '../shared/observability/metrics.ts';
import { keyState, type KeyRing } from './keys/key-ring.ts';
import { DISCOVERY_PATHS, PROVIDER_ROUTES } from './oidc/provider-configuration.ts';

/**
 * The issuer's own metrics, beside the HTTP ones every process has: what the security log records
 * (sign-ins by method and result, locks, second factors, refresh-token reuse), tokens issued, mail,
 * signing keys. Counted where the facts are already known (the security log, oidc-provider's
 * events, the mailer), so no request path grows a metrics call of its own.
 */
export function issuerMetrics(metrics: Metrics, options: { clientIdLabel: boolean }) {
  const securityEvents = metrics.counter('latchkey_security_events_total', 'Security-log events recorded, by type.', [
    'type',
  ]);
  const signIns = metrics.counter(
    'latchkey_sign_ins_total',
    'Finished sign-ins by method (password, magic_link, passkey, password+totp, ...).',
    ['method'],
  );
  const signInFailures = metrics.counter(
    'latchkey_sign_in_failures_total',
    'Refused sign-in steps (first or second factor) by reason (wrong_password, locked, wrong_code, ...).',
    ['reason'],
  );
  const locks = metrics.counter('latchkey_account_locks_total', 'Accounts locked after repeated failures.');
  const refreshReuse = metrics.counter(
    'latchkey_refresh_token_reuse_detections_total',
    'Rotated refresh tokens presented again after the grace window (the grant is revoked).',
  );
  const tokenLabels = options.clientIdLabel
    ? (['grant_type', 'token_type', 'client_id'] as const)
    : (['grant_type', 'token_type'] as const);
  const tokens = metrics.counter(
    'latchkey_tokens_issued_total',
    'Tokens issued by the token endpoint, by grant and token type.',
    [...tokenLabels],
  );
  const graceReplays = metrics.counter(
    'latchkey_refresh_grace_replays_total',
    'Refresh tokens presented again within the grace window and answered with the same rotation.',
  );
  const deviceGuesses = metrics.counter(
    'latchkey_device_code_guesses_refused_total',
    'Device-flow user codes refused because the browser or address guessed too often.',
  );
  const webhookDeliveries = metrics.counter(
    'latchkey_webhook_deliveries_total',
    'Webhook delivery attempts by outcome: delivered, retried, failed (given up on), refused (destination not allowed).',
    ['outcome'],
  );
  const mail = metrics.counter('latchkey_mail_total', 'Mail by outcome: queued, sent, retried, failed (given up).', [
    'kind',
    'outcome',
  ]);

  return {
    /** The security log, counted as it records. */
    countEvents(events: SecurityEvents): SecurityEvents {
      return {
        ...events,
        async record(event: SecurityEvent) {
          const recorded = await events.record(event);
          securityEvents.inc({ type: event.type });
          countSignIn(event);
          return recorded;
        },
      };
    },

    /** Tokens issued, from oidc-provider's `grant.success` (the token endpoint's answers). */
    observeProvider(this: void, provider: Provider): void {
      provider.on('grant.success', (ctx) => {
        const body = (ctx.body ?? {}) as Record<string, unknown>;
        const grantType = ctx.oidc.params?.grant_type;
        const grant = typeof grantType === 'string' ? grantType : 'unknown';
        for (const tokenType of ['access_token', 'id_token', 'refresh_token'] as const) {
          if (typeof body[tokenType] !== 'string') continue;
          const labels = { grant_type: grant, token_type: tokenType };
          tokens.inc(
            options.clientIdLabel ? { ...labels, client_id: String(ctx.oidc.client?.clientId ?? '') } : labels,
          );
        }
      });
    },

    /** Access tokens this process issued since it started, by grant type (for the console's overview). */
    async accessTokensByGrant(this: void): Promise<Array<{ grantType: string; count: number }>> {
      const totals = new Map<string, number>();
      for (const { labels, value } of (await tokens.get()).values) {
        if (labels.token_type !== 'access_token') continue;
        const grant = String(labels.grant_type);
        totals.set(grant, (totals.get(grant) ?? 0) + value);
      }
      return [...totals].map(([grantType, count]) => ({ grantType, count }));
    },

    graceReplayed: () => graceReplays.inc(),
    deviceGuessRefused: () => deviceGuesses.inc(),
    webhookOutcome: (outcome: string) => webhookDeliveries.inc({ outcome }),
    mailOutcome: (kind: string, outcome: 'queued' | 'sent' | 'retried' | 'failed') => mail.inc({ kind, outcome }),

    /** Signing keys by purpose and state, and when the next scheduled rotation is due: read at each scrape. */
    watchKeys(keys: KeyRing, rotationIntervalDays: number): void {
      metrics.gauge(
        'latchkey_signing_keys',
        'Signing keys by purpose and state.',
        ['purpose', 'state'],
        async (gauge) => {
          gauge.reset();
          const now = new Date();
          for (const key of await keys.list()) gauge.inc({ purpose: key.purpose, state: keyState(key, now) });
        },
      );
      metrics.gauge(
        'latchkey_signing_key_rotation_due_seconds',
        'Seconds until the scheduled rotation of the newest token-signing key (negative: overdue).',
        [],
        async (gauge) => {
          const newest = (await keys.list())
            .filter((key) => key.purpose === 'token')
            .reduce<Date | undefined>(
              (latest, key) => (!latest || key.createdAt > latest ? key.createdAt : latest),
              undefined,
            );
          if (!newest || rotationIntervalDays <= 0) return;
          gauge.set((newest.getTime() + rotationIntervalDays * 86_400_000 - Date.now()) / 1000);
        },
      );
    },
  };

  function countSignIn(event: SecurityEvent): void {
    const detail = event.detail ?? {};
    if (event.type === 'sign_in.succeeded') signIns.inc({ method: String(detail.method ?? 'unknown') });
    else if (event.type === 'sign_in.failed') signInFailures.inc({ reason: String(detail.reason ?? 'unknown') });
    else if (event.type === 'account.locked') locks.inc();
    else if (event.type === 'refresh_token.reuse_detected') refreshReuse.inc();
  }
}

export type IssuerMetrics = ReturnType<typeof issuerMetrics>;

/** The route label of a request to oidc-provider: its endpoint, with the variable part of a sub-path named. */
export function providerRouteOf(path: string): string | undefined {
  if (DISCOVERY_PATHS.includes(path)) return path;
  for (const route of Object.values(PROVIDER_ROUTES)) if (path === route) return route;
  for (const route of [PROVIDER_ROUTES.authorization, PROVIDER_ROUTES.end_session, PROVIDER_ROUTES.code_verification])
    if (path.startsWith(`${route}/`)) return `${route}/:rest`;
  return undefined;
}
