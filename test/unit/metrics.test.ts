import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type Provider from 'oidc-provider';
import type { SecurityEvents } from '../../src/accounts/security-events.ts';
import { issuerMetrics, providerRouteOf } from '../../src/issuer/issuer-metrics.ts';
import { Metrics } from '../../src/shared/observability/metrics.ts';

/** A token endpoint answer, as oidc-provider's `grant.success` hands it over. */
function grantSuccess(provider: EventEmitter, clientId: string) {
  provider.emit('grant.success', {
    body: { access_token: 'a', id_token: 'b', refresh_token: 'c' },
    oidc: { params: { grant_type: 'authorization_code' }, client: { clientId } },
  });
}

describe('metrics', () => {
  it('names the provider’s endpoints by route, with a sub-path’s variable part named', () => {
    assert.equal(providerRouteOf('/token'), '/token');
    assert.equal(providerRouteOf('/.well-known/openid-configuration'), '/.well-known/openid-configuration');
    assert.equal(providerRouteOf('/auth/Xk2b9sQ'), '/auth/:rest');
    assert.equal(providerRouteOf('/device/confirm'), '/device/:rest');
    assert.equal(providerRouteOf('/wp-login.php'), undefined);
  });

  it('counts tokens by grant and type, with the client id only when the operator turns it on', async () => {
    for (const clientIdLabel of [false, true]) {
      const metrics = new Metrics('issuer', '0.0.0');
      const provider = new EventEmitter();
      issuerMetrics(metrics, { clientIdLabel }).observeProvider(provider as unknown as Provider);
      grantSuccess(provider, 'billing-service');
      const text = await metrics.registry.metrics();
      assert.match(
        text,
        /latchkey_tokens_issued_total\{[^}]*grant_type="authorization_code",token_type="refresh_token"/,
      );
      assert.equal(text.includes('client_id="billing-service"'), clientIdLabel);
    }
  });

  it('counts the security log as it records: sign-ins by method, failures by reason, locks', async () => {
    const metrics = new Metrics('issuer', '0.0.0');
    const recorded: string[] = [];
    const events = issuerMetrics(metrics, { clientIdLabel: false }).countEvents({
      record: async (event) => void recorded.push(event.type),
    } as SecurityEvents);
    await events.record({ type: 'sign_in.succeeded', actor: 'u', detail: { method: 'passkey' } });
    await events.record({ type: 'sign_in.failed', actor: 'u', detail: { reason: 'wrong_password' } });
    await events.record({ type: 'account.locked', actor: 'system' });
    const text = await metrics.registry.metrics();
    assert.deepEqual(recorded, ['sign_in.succeeded', 'sign_in.failed', 'account.locked'], 'still written to the log');
    assert.match(text, /latchkey_sign_ins_total\{method="passkey",service="issuer"\} 1/);
    assert.match(text, /latchkey_sign_in_failures_total\{reason="wrong_password",service="issuer"\} 1/);
    assert.match(text, /latchkey_account_locks_total\{service="issuer"\} 1/);
  });
});
