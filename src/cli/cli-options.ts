import { parseArgs } from 'node:util';

/** Every option `latchkey` takes; each command reads the ones it needs. */
export const CLI_OPTIONS = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
  issuer: { type: 'string' },
  'no-browser': { type: 'boolean', default: false },
  deploy: { type: 'boolean', default: false },
  event: { type: 'string', multiple: true },
  name: { type: 'string' },
  type: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'grant-type': { type: 'string', multiple: true },
  resource: { type: 'string', multiple: true },
  'default-resource': { type: 'string' },
  'post-logout-redirect-uri': { type: 'string', multiple: true },
  scope: { type: 'string', multiple: true },
  'first-party': { type: 'boolean' },
  'third-party': { type: 'boolean' },
  pkce: { type: 'boolean' },
  'no-pkce': { type: 'boolean' },
  'logo-uri': { type: 'string' },
  'client-uri': { type: 'string' },
  'policy-uri': { type: 'string' },
  'tos-uri': { type: 'string' },
  'access-token-ttl': { type: 'string' },
  confirm: { type: 'string' },
  'jwks-file': { type: 'string' },
  email: { type: 'string' },
  user: { type: 'string' },
  role: { type: 'string', multiple: true },
  verified: { type: 'boolean', default: false },
  description: { type: 'string' },
  default: { type: 'boolean' },
  'no-default': { type: 'boolean' },
  'role-limited': { type: 'boolean' },
  'no-role-limited': { type: 'boolean' },
  'dpop-required': { type: 'boolean' },
  'no-dpop-required': { type: 'boolean' },
  'given-name': { type: 'string' },
  'family-name': { type: 'string' },
  'preferred-username': { type: 'string' },
  picture: { type: 'string' },
  locale: { type: 'string' },
  zoneinfo: { type: 'string' },
  limit: { type: 'string' },
  'token-exchange-type': { type: 'string', multiple: true },
  permission: { type: 'string', multiple: true },
  client: { type: 'string' },
  'expires-in-days': { type: 'string' },
  preset: { type: 'string' },
  tenant: { type: 'string' },
  kind: { type: 'string' },
  'button-label': { type: 'string' },
  'issuer-url': { type: 'string' },
  'client-id': { type: 'string' },
  domain: { type: 'string', multiple: true },
  'claim-map': { type: 'string', multiple: true },
  'role-map': { type: 'string', multiple: true },
  enable: { type: 'boolean' },
  disable: { type: 'boolean' },
  'allow-sign-up': { type: 'boolean' },
  'no-sign-up': { type: 'boolean' },
  'trust-email': { type: 'boolean' },
  'no-trust-email': { type: 'boolean' },
  'trust-mfa': { type: 'boolean' },
  'no-trust-mfa': { type: 'boolean' },
  'new-secret': { type: 'boolean' },
} as const;

export const parseCli = (args: string[]) => parseArgs({ args, allowPositionals: true, options: CLI_OPTIONS });
export type CliValues = ReturnType<typeof parseCli>['values'];

/** What one command was given: `latchkey <command> <action> <target> <rest...> --options`. */
export interface CommandInput {
  action: string | undefined;
  target: string | undefined;
  rest: string[];
  values: CliValues;
}

/** What a command prints: JSON with --json, text otherwise. */
export interface Output {
  json: unknown;
  text: string;
}

/** A `--yes` / `--no-yes` pair read as true, false, or not given. */
export const either = (yes: boolean | undefined, no: boolean | undefined): boolean | undefined =>
  yes ? true : no ? false : undefined;

/** One value as text: strings as they are, nothing as nothing, objects as JSON. */
function cell(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** Rows as an aligned text table. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const text = (value: unknown) => (Array.isArray(value) ? value.join(',') : cell(value));
  const cells = [columns, ...rows.map((row) => columns.map((column) => text(row[column])))];
  const widths = columns.map((_, index) => Math.max(...cells.map((row) => row[index]!.length)));
  return cells
    .map((row) =>
      row
        .map((text, index) => text.padEnd(widths[index]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `key: value` lines for one object. */
export const fields = (shown: Record<string, unknown>) =>
  Object.entries(shown)
    .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(' ') : cell(value)}`)
    .join('\n');
