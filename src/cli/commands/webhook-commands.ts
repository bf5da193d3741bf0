import { CliError, EXIT, type AdminConnection } from '../admin-connection.ts';
import { fields, table, type CommandInput, type Output } from '../cli-options.ts';

const WEBHOOK_COLUMNS = ['id', 'url', 'eventTypes', 'enabled', 'disabledReason', 'consecutiveFailures'];

/**
 * `latchkey webhook create URL --event T... | list | show ID | delete ID | enable ID | disable ID |
 * rotate-secret ID | test ID | deliveries ID | replay ID DELIVERY_ID`.
 */
export async function webhookCommand(
  admin: AdminConnection,
  { action, target, rest, values }: CommandInput,
): Promise<Output> {
  const id = () => {
    if (!target) throw new CliError(EXIT.invalid, `webhook ${action ?? ''} needs a webhook id`);
    return encodeURIComponent(target);
  };
  switch (action) {
    case 'list': {
      const page = await admin.call<{ items: Array<Record<string, unknown>> }>('GET', '/webhooks');
      return { json: page.items, text: table(page.items, WEBHOOK_COLUMNS) };
    }
    case 'create': {
      if (!target) throw new CliError(EXIT.invalid, 'webhook create needs a URL');
      const created = await admin.call<Record<string, unknown>>('POST', '/webhooks', {
        url: target,
        eventTypes: values.event ?? ['*'],
      });
      return {
        json: created,
        text: `${fields(created)}\nThe secret is shown only now: keep it where the receiver verifies signatures.`,
      };
    }
    case 'show': {
      const webhook = await admin.call<Record<string, unknown>>('GET', `/webhooks/${id()}`);
      return { json: webhook, text: fields(webhook) };
    }
    case 'delete':
      await admin.call('DELETE', `/webhooks/${id()}`);
      return { json: { deleted: target }, text: `deleted webhook ${target}` };
    case 'enable':
    case 'disable': {
      const webhook = await admin.call<Record<string, unknown>>('PUT', `/webhooks/${id()}/enabled`, {
        enabled: action === 'enable',
      });
      return { json: webhook, text: fields(webhook) };
    }
    case 'rotate-secret': {
      const rotated = await admin.call<Record<string, unknown>>('POST', `/webhooks/${id()}/rotate-secret`);
      return {
        json: rotated,
        text: `${fields(rotated)}\nThe new secret is shown only now; the old one signs too until the time above.`,
      };
    }
    case 'test': {
      const sent = await admin.call<Record<string, unknown>>('POST', `/webhooks/${id()}/test`);
      return { json: sent, text: `queued a webhook.test event (${String(sent.messageId)})` };
    }
    case 'deliveries': {
      const page = await admin.call<{ items: Array<Record<string, unknown>> }>('GET', `/webhooks/${id()}/deliveries`);
      const columns = ['id', 'createdAt', 'eventType', 'status', 'attempts', 'lastStatus', 'lastError'];
      return { json: page.items, text: table(page.items, columns) };
    }
    case 'replay': {
      const [delivery] = rest;
      if (!delivery) throw new CliError(EXIT.invalid, 'webhook replay needs a webhook id and a delivery id');
      await admin.call('POST', `/webhooks/${id()}/deliveries/${encodeURIComponent(delivery)}/replay`);
      return { json: { replayed: delivery }, text: `delivery ${delivery} queued again` };
    }
    default:
      throw new CliError(EXIT.invalid, `unknown webhook command "${action ?? ''}"`);
  }
}
