import { CliError, EXIT, type AdminConnection } from '../admin-connection.ts';
import { fields, table, type CommandInput, type Output } from '../cli-options.ts';
import { readPassword } from '../password-input.ts';
import { parseClaimMapping, parseRoleMapping } from '../../accounts/federation/mappings.ts';

const COLUMNS = ['slug', 'kind', 'name', 'issuer', 'enabled', 'allowSignUp', 'trustEmailVerified'];
const usage = (message: string) => new CliError(EXIT.invalid, message);

/** `claim=field[:force]` into a claim mapping. */
function claimMapping(text: string) {
  const mapping = parseClaimMapping(text);
  if (!mapping) throw usage(`--claim-map is claim=field[:force], not ${text}`);
  return mapping;
}

/** `claim:value=role[:force]` into a role mapping (`groups:admins=admin:force`). */
function roleMapping(text: string) {
  const mapping = parseRoleMapping(text);
  if (!mapping) throw usage(`--role-map is claim:value=role[:force], not ${text}`);
  return mapping;
}

/** What `idp create|update` was told; only the options given. */
function upstreamFields(values: CommandInput['values']) {
  const flag = (on: boolean | undefined, off: boolean | undefined, name: string) => {
    if (on && off) throw usage(`--${name} or --no-${name}, not both`);
    return on ? true : off ? false : undefined;
  };
  const toggles = {
    enabled: flag(values.enable, values.disable, 'enable'),
    allowSignUp: flag(values['allow-sign-up'], values['no-sign-up'], 'allow-sign-up'),
    trustEmailVerified: flag(values['trust-email'], values['no-trust-email'], 'trust-email'),
    trustMfa: flag(values['trust-mfa'], values['no-trust-mfa'], 'trust-mfa'),
  };
  return {
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values['button-label'] !== undefined ? { buttonLabel: values['button-label'] } : {}),
    ...(values['issuer-url'] !== undefined ? { issuer: values['issuer-url'] } : {}),
    ...(values['client-id'] !== undefined ? { clientId: values['client-id'] } : {}),
    ...(values.scope ? { scopes: values.scope } : {}),
    ...(values.domain ? { allowedDomains: values.domain } : {}),
    ...(values['claim-map'] ? { claimMappings: values['claim-map'].map(claimMapping) } : {}),
    ...(values['role-map'] ? { roleMappings: values['role-map'].map(roleMapping) } : {}),
    ...Object.fromEntries(Object.entries(toggles).filter(([, value]) => value !== undefined)),
  };
}

/**
 * `latchkey idp create SLUG --name N (--preset google|microsoft|github | --issuer-url URL)
 * --client-id ID [...] | list | show SLUG | update SLUG [...] | delete SLUG`. The client secret is
 * read from standard input, never an argument.
 */
export async function idpCommand(admin: AdminConnection, { action, target, values }: CommandInput): Promise<Output> {
  const slug = () => {
    if (!target) throw usage(`idp ${action ?? ''} needs the provider's slug`);
    return encodeURIComponent(target);
  };
  switch (action) {
    case 'list': {
      const page = await admin.call<{ items: Array<Record<string, unknown>> }>('GET', '/identity-providers');
      return { json: page.items, text: table(page.items, COLUMNS) };
    }
    case 'show': {
      const row = await admin.call<Record<string, unknown>>('GET', `/identity-providers/${slug()}`);
      return { json: row, text: fields(row) };
    }
    case 'create': {
      if (!target || !values.name || !values['client-id'])
        throw usage('idp create needs a slug, --name and --client-id');
      const clientSecret = (
        await readPassword(process.stdin, process.stderr, 'The client secret at the provider')
      ).trim();
      if (!clientSecret) throw usage('the client secret is read from standard input');
      const created = await admin.call<Record<string, unknown>>('POST', '/identity-providers', {
        slug: target,
        ...(values.preset ? { preset: values.preset } : {}),
        ...(values.tenant ? { tenant: values.tenant } : {}),
        ...(values.kind ? { kind: values.kind } : {}),
        ...upstreamFields(values),
        clientSecret,
      });
      return { json: created, text: `${fields(created)}\nRegister the redirect URI above at the provider.` };
    }
    case 'update': {
      const changes: Record<string, unknown> = upstreamFields(values);
      if (values['new-secret'])
        changes.clientSecret = (await readPassword(process.stdin, process.stderr, 'The new client secret')).trim();
      if (Object.keys(changes).length === 0) throw usage('idp update needs at least one change');
      const row = await admin.call<Record<string, unknown>>('PATCH', `/identity-providers/${slug()}`, changes);
      return { json: row, text: fields(row) };
    }
    case 'delete':
      await admin.call('DELETE', `/identity-providers/${slug()}`);
      return { json: { deleted: target }, text: `deleted identity provider ${target ?? ''} and every link to it` };
    default:
      throw usage(`unknown idp command "${action ?? ''}"`);
  }
}
