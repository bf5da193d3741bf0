import { CliError, EXIT, type AdminConnection } from '../admin-connection.ts';
import { table, type CommandInput, type Output } from '../cli-options.ts';

/** `latchkey keys list|rotate`. */
export async function keysCommand(admin: AdminConnection, { action }: CommandInput): Promise<Output> {
  if (action === 'list') {
    const page = await admin.call<{ items: Array<Record<string, unknown>> }>('GET', '/keys');
    return {
      json: page.items,
      text: table(page.items, ['kid', 'purpose', 'alg', 'state', 'activatesAt', 'retiresAt', 'removesAt']),
    };
  }
  if (action === 'rotate') {
    const rotated = await admin.call<{ created: string[]; signsFrom: string }>('POST', '/keys/rotate');
    return {
      json: rotated,
      text: `created ${rotated.created.length} key(s), published now, signing from ${rotated.signsFrom}:\n${rotated.created.join('\n')}`,
    };
  }
  throw new CliError(EXIT.invalid, `unknown keys command "${action ?? ''}"`);
}

/** `latchkey audit list [--user ID|EMAIL] [--type T] [--limit N]`: the security log, newest first. */
export async function auditCommand(
  admin: AdminConnection,
  { action, values }: CommandInput,
  userId: (idOrEmail: string) => Promise<string>,
): Promise<Output> {
  if (action !== 'list') throw new CliError(EXIT.invalid, `unknown audit command "${action ?? ''}"`);
  const query = new URLSearchParams({ limit: values.limit ?? '100' });
  if (values.user) query.set('user', await userId(values.user));
  if (values.type) query.set('type', values.type);
  const page = await admin.call<{ items: Array<Record<string, unknown>> }>('GET', `/events?${query.toString()}`);
  return { json: page.items, text: table(page.items, ['at', 'type', 'userId', 'actor', 'ip', 'detail']) };
}
