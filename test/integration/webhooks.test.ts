import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { needsPostgres } from '../support/environment.ts';
import { startIssuer, type IssuerHarness } from '../support/issuer-harness.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

const PRIVATE_ALLOWED = { WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' };

/** A security event, as the issuer records one when a password is wrong. */
const wrongPassword = (issuer: IssuerHarness, n = 0) =>
  issuer.issuer.events.record({
    type: 'sign_in.failed',
    actor: 'anonymous',
    ip: '198.51.100.7',
    detail: { reason: 'wrong_password', n },
  });

/** The delivery log of a webhook once its latest delivery has finished (delivered or given up on). */
async function settledDeliveriesOf(issuer: IssuerHarness, id: string) {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const deliveries = await issuer.issuer.webhooks.webhooks.deliveries(id);
    if (deliveries.length && deliveries[0]!.status !== 'pending') return deliveries;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return issuer.issuer.webhooks.webhooks.deliveries(id);
}

describe('webhooks for security events (Standard Webhooks)', () => {
  let issuer: IssuerHarness;

  before(async () => {
    // Retries a second apart, so each attempt's timestamp (whole seconds) is its own.
    issuer = await startIssuer(PRIVATE_ALLOWED, { webhookRetryDelaysMs: [1_100, 1_100] });
  });
  after(() => issuer?.stop());
  // Each test's webhook goes with it: a later test's events must not reach an earlier receiver.
  afterEach(async () => {
    for (const webhook of await issuer.issuer.webhooks.webhooks.list())
      await issuer.issuer.webhooks.webhooks.remove(webhook.id);
  });

  const settledDeliveries = (id: string) => settledDeliveriesOf(issuer, id);

  it('signs each delivery so a Standard Webhooks receiver verifies it, and refuses it with one byte changed', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const { secret, id } = await issuer.issuer.webhooks.webhooks.create(receiver.url, ['sign_in.*']);
      await issuer.issuer.events.record({ type: 'passkey.renamed', actor: 'u', detail: {} });
      await wrongPassword(issuer);
      await receiver.waitFor(1);
      const [delivery] = receiver.received;
      const payload = new Webhook(secret).verify(delivery!.body, delivery!.headers) as {
        type: string;
        data: { detail: { reason: string }; ip: string };
      };
      assert.equal(payload.type, 'sign_in.failed', 'only the asked-for family (passkey.renamed was not sent)');
      assert.equal(payload.data.detail.reason, 'wrong_password');
      const tampered = delivery!.body.replace('wrong_password', 'wrong_passwore');
      assert.throws(() => new Webhook(secret).verify(tampered, delivery!.headers), /signature/i);
      assert.match(delivery!.headers['webhook-id'] ?? '', /^msg_[0-9a-f]{32}$/);
      const [logged] = await settledDeliveries(id);
      assert.equal(logged?.status, 'delivered');
      assert.equal(logged?.lastStatus, 200);
    } finally {
      await receiver.close();
    }
  });

  it('retries a failing receiver with the same webhook-id and a fresh timestamp and valid signature each time', async () => {
    const receiver = await startWebhookReceiver([500, 503, 204]);
    try {
      const { secret, id } = await issuer.issuer.webhooks.webhooks.create(receiver.url, ['sign_in.failed']);
      await wrongPassword(issuer, 1);
      await receiver.waitFor(3);
      const ids = new Set(receiver.received.map((request) => request.headers['webhook-id']));
      assert.equal(ids.size, 1, 'one message id across the attempts');
      const timestamps = new Set(receiver.received.map((request) => request.headers['webhook-timestamp']));
      assert.equal(timestamps.size, 3, 'each attempt signed at its own time');
      for (const request of receiver.received) new Webhook(secret).verify(request.body, request.headers);
      const [logged] = await settledDeliveries(id);
      assert.deepEqual([logged?.status, logged?.attempts], ['delivered', 3]);
    } finally {
      await receiver.close();
    }
  });

  it('signs with both secrets for a day after a rotation, so receivers can switch without losing one', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const { secret: old, id } = await issuer.issuer.webhooks.webhooks.create(receiver.url, ['sign_in.failed']);
      const rotated = await issuer.issuer.webhooks.webhooks.rotateSecret(id);
      await wrongPassword(issuer, 2);
      await receiver.waitFor(1);
      const [delivery] = receiver.received;
      assert.equal(delivery!.headers['webhook-signature']?.split(' ').length, 2);
      new Webhook(old).verify(delivery!.body, delivery!.headers);
      new Webhook(rotated!.secret).verify(delivery!.body, delivery!.headers);
    } finally {
      await receiver.close();
    }
  });

  it('turns a webhook off after five deliveries in a row are given up on, and says so in the security log', async () => {
    const failing = await startIssuer(PRIVATE_ALLOWED, { webhookRetryDelaysMs: [] });
    const receiver = await startWebhookReceiver([500]);
    try {
      const { id } = await failing.issuer.webhooks.webhooks.create(receiver.url, ['sign_in.failed']);
      // One failing event at a time until the webhook is off (five, where no instance retries).
      for (let n = 0; n < 20 && (await failing.issuer.webhooks.webhooks.find(id))?.enabled; n += 1) {
        await wrongPassword(failing, n);
        await settledDeliveriesOf(failing, id);
      }
      const webhook = await failing.issuer.webhooks.webhooks.find(id);
      assert.deepEqual([webhook?.enabled, webhook?.disabledReason], [false, 'failing']);
      assert.ok(receiver.received.length >= 5);
      const events = await failing.issuer.events.list({ limit: 50 });
      assert.ok(
        events.some(
          (event) =>
            event.type === 'webhook.disabled' && (event.detail as { webhookId?: string } | null)?.webhookId === id,
        ),
      );
      // Turned off, it gets nothing more.
      const before = receiver.received.length;
      await wrongPassword(failing, 99);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(receiver.received.length, before);
    } finally {
      await receiver.close();
      for (const webhook of await failing.issuer.webhooks.webhooks.list())
        await failing.issuer.webhooks.webhooks.remove(webhook.id);
      await failing.stop();
    }
  });

  it('attack: refuses a webhook to a loopback, private or metadata address unless allowed', async () => {
    const strict = await startIssuer({});
    try {
      for (const url of [
        'http://127.0.0.1:9/x',
        'http://10.0.0.5/x',
        'http://169.254.169.254/latest',
        'http://[::1]/x',
      ])
        await assert.rejects(strict.issuer.webhooks.webhooks.create(url, ['*']), /private or local address/, url);
      await assert.rejects(strict.issuer.webhooks.webhooks.create('ftp://example.com/x', ['*']), /http/);
      await assert.rejects(
        strict.issuer.webhooks.webhooks.create('https://example.com/x', ['not a type']),
        /eventTypes/,
      );
    } finally {
      await strict.stop();
    }
  });

  it('delivers each event once when two issuer instances share the outbox', { skip: needsPostgres }, async () => {
    const other = await startIssuer(PRIVATE_ALLOWED);
    const receiver = await startWebhookReceiver();
    try {
      await issuer.issuer.webhooks.webhooks.create(receiver.url, ['account.locked']);
      for (let n = 0; n < 20; n += 1)
        await (n % 2 ? issuer : other).issuer.events.record({ type: 'account.locked', actor: 'system', detail: { n } });
      await receiver.waitFor(20);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const ns = receiver.received.map(
        (request) => (JSON.parse(request.body) as { data: { detail: { n: number } } }).data.detail.n,
      );
      assert.deepEqual(
        [...ns].sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, n) => n),
        'each once',
      );
    } finally {
      await receiver.close();
      await other.stop();
    }
  });
});
