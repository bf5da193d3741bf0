import { CliError, EXIT, type AdminConnection } from '../admin-connection.ts';
import { fields, table, type CommandInput, type Output } from '../cli-options.ts';
import { readPassword } from '../password-input.ts';

const KEY_COLUMNS = ['id', 'prefix', 'name', 'userId', 'clientId', 'expiresAt', 'lastUsedAt', 'revokedAt'];
type Key = Record<string, unknown> & { prefix: string; name: string; userId: string | null; clientId: string | null };

/**
 * `latchkey api-key list [--user ID|EMAIL] [--client ID] | show ID | revoke ID | revoke-leaked |
 * create --client ID --name N --permission "API SCOPE"... [--expires-in-days D]`. A leaked key is
 * read from standard input, never from an argument (which the process list shows).
 */
export async function apiKeyCommand(
  admin: AdminConnection,
  { action, target, values }: CommandInput,
  userId: (who: string) => Promise<string>,
): Promise<Output> {
  const id = () => {
    if (!target) throw new CliError(EXIT.invalid, `api-key ${action ?? ''} needs a key id`);
    return encodeURIComponent(target);
  };
  switch (action) {
    case 'list': {
      const query = new URLSearchParams();
      if (values.user) query.set('userId', await userId(values.user));
      if (values.client) query.set('clientId', values.client);
      const page = await admin.call<{ items: Key[] }>('GET', `/api-keys${query.size ? `?${query.toString()}` : ''}`);
      return { json: page.items, text: table(page.items, KEY_COLUMNS) };
    }
    case 'show': {
      const key = await admin.call<Key>('GET', `/api-keys/${id()}`);
      return { json: key, text: fields(key) };
    }
    case 'revoke': {
      const key = await admin.call<Key>('POST', `/api-keys/${id()}/revoke`);
      return { json: key, text: `revoked ${key.prefix}… (${key.name})` };
    }
    case 'revoke-leaked': {
      const leaked = (await readPassword(process.stdin, process.stderr, 'The leaked key')).trim();
      const key = await admin.call<Key>('POST', '/api-keys/revoke-leaked', { key: leaked });
      const owner = key.userId ? `user ${key.userId}` : `client ${key.clientId ?? ''}`;
      return { json: key, text: `revoked ${key.prefix}… (${key.name}) of ${owner}` };
    }
    case 'create': {
      if (!values.client || !values.name || !values.permission?.length)
        throw new CliError(EXIT.invalid, 'api-key create needs --client, --name and --permission "API_URI SCOPE"');
      const days = values['expires-in-days'];
      if (days !== undefined && !/^\d+$/.test(days))
        throw new CliError(EXIT.invalid, '--expires-in-days is a number of days');
      const created = await admin.call<Key>('POST', `/clients/${encodeURIComponent(values.client)}/api-keys`, {
        name: values.name,
        permissions: values.permission,
        ...(days ? { expiresInDays: Number(days) } : {}),
      });
      return {
        json: created,
        text: `${fields(created)}\nThe key is shown only now: use it as the client's secret (only a hash is kept).`,
      };
    }
    default:
      throw new CliError(EXIT.invalid, `unknown api-key command "${action ?? ''}"`);
  }
}
