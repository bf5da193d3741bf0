#!/usr/bin/env node
/**
 * `latchkey`: the administrator's command line, a client of the issuer's admin API (/admin/v1).
 * It signs in as a person (`latchkey login`, device grant, DPoP-bound tokens kept in
 * ~/.config/latchkey), as a service (LATCHKEY_CLIENT_ID/SECRET), or, on the issuer's machine while
 * it runs, as the local operator (the credential in DATA_DIR). Only `migrate` opens the database.
 * Every command takes --json. Passwords are read from standard input, never from arguments.
 */
import { loadConfig, type Config, type DatabaseTarget } from '../shared/config/config.ts';
import { describeTarget, openDatabase, type ClientFactory, type PrismaLike } from '../shared/database/connection.ts';
import { PrismaClient as IssuerClient } from '../shared/database/generated/issuer/client.ts';
import { PrismaClient as TasksClient } from '../shared/database/generated/tasks/client.ts';
import { migrate, MIGRATIONS } from '../shared/database/migrations.ts';
import { createLogger } from '../shared/logging/logger.ts';
import { adminSession, CliError, connect, EXIT, type ConnectionSettings } from './admin-connection.ts';
import { parseCli, type CliValues, type CommandInput, type Output } from './cli-options.ts';
import { apiCommand } from './commands/api-commands.ts';
import { clientCommand } from './commands/client-commands.ts';
import { auditCommand, keysCommand } from './commands/log-commands.ts';
import { roleCommand } from './commands/role-commands.ts';
import { userCommand, userId } from './commands/user-commands.ts';
import { webhookCommand } from './commands/webhook-commands.ts';
import { apiKeyCommand } from './commands/api-key-commands.ts';
import { idpCommand } from './commands/idp-commands.ts';
import { gatherDeploymentFacts } from './deploy-facts.ts';
import { reviewDeployment } from './deploy-review.ts';

const USAGE = `usage: latchkey <command> [options] [--json] [--issuer URL]

  login [--no-browser] | logout | whoami        sign in as a person (device grant) or out
  api create URI --name N [--scope name=sentence]... [--access-token-ttl SECONDS]
             [--no-role-limited] [--dpop-required]
  api list | show URI | delete URI
  api update URI [--name N] [--access-token-ttl S] [--role-limited | --no-role-limited]
             [--dpop-required | --no-dpop-required]
  api scope add URI --scope name=sentence... | api scope remove URI NAME
  role create NAME [--description D] [--default]      (--default: given to every new account)
  role list | show NAME | delete NAME
  role update NAME [--name N] [--description D] [--default | --no-default]
  role grant NAME API_URI SCOPE... | role revoke NAME API_URI SCOPE...
  client create --name N --type web|spa|cli|service [--resource API_URI]... [--default-resource API_URI]
                [--redirect-uri U]... [--post-logout-redirect-uri U]...
                [--scope S]... [--grant-type G]... [--first-party] [--no-pkce] [--jwks-file F]
                [--logo-uri U] [--client-uri U] [--policy-uri U] [--tos-uri U] [--access-token-ttl SECONDS]
                [--token-exchange-type TYPE]...   (with --grant-type urn:ietf:params:oauth:grant-type:token-exchange)
  client update ID [--name N] [--resource API_URI]... [--default-resource API_URI] [--redirect-uri U]...
                [--post-logout-redirect-uri U]... [--scope S]... [--grant-type G]...
                [--first-party | --third-party] [--pkce | --no-pkce] [--logo-uri U] [--client-uri U]
                [--policy-uri U] [--tos-uri U] [--access-token-ttl SECONDS]
                (lists given replace the old ones; "" clears a link, or the lifetime back to the default)
  client list | show ID | delete ID | rotate-secret ID
  client roles add|remove ID ROLE...      (a service client's roles: what its own tokens carry)
  user create --email E [--role R]... [--verified]     (password on standard input; no --role: the default roles)
  user roles add|remove ID|EMAIL ROLE...
  user passkeys ID|EMAIL | user passkeys remove ID|EMAIL PASSKEY_ID
  user list [--email PART] | show ID|EMAIL | disable ID|EMAIL | enable ID|EMAIL | unlock ID|EMAIL
  user reset-second-factor ID|EMAIL | password-reset ID|EMAIL
  user delete ID|EMAIL --confirm EMAIL      (erases the account and everything issued to it)
  user update ID|EMAIL [--name N] [--given-name N] [--family-name N] [--preferred-username U]
                       [--picture URL] [--locale L] [--zoneinfo Z]   (an empty value clears a field)
  keys list | rotate
  audit list [--user ID|EMAIL] [--type T] [--limit N]
  webhook create URL [--event TYPE]...      (security events to a URL, Standard Webhooks; TYPE such as
                                            sign_in.failed, passkey.* or *; the secret is shown once)
  webhook list | show ID | delete ID | enable ID | disable ID | rotate-secret ID | test ID
  webhook deliveries ID | replay ID DELIVERY_ID
  api-key list [--user ID|EMAIL] [--client ID] | show ID | revoke ID
  api-key revoke-leaked                     (the full key on standard input: revoked at once, owner named)
  api-key create --client ID --name N --permission "API_URI SCOPE"... [--expires-in-days D]
                                            (a service client's lk_svc_ key, used as its secret; shown once)
  idp create SLUG --name N (--preset google|microsoft|github [--tenant T] | --issuer-url URL) --client-id ID
             [--scope S]... [--allow-sign-up] [--trust-email] [--trust-mfa] [--domain D]...
             [--claim-map claim=field[:force]]... [--role-map claim:value=role[:force]]...
             (the client secret on standard input; prints the redirect URI to register there)
  idp list | show SLUG | delete SLUG | update SLUG [same options] [--enable | --disable] [--new-secret]
  migrate                                   (the only command that opens the database itself)
  check --deploy                            (audits this configuration for production: PostgreSQL,
                                            Redis, SMTP, URLs, keys, administrators; exit 1 on an error)

Signing in: LATCHKEY_CLIENT_ID + LATCHKEY_CLIENT_SECRET[_FILE] (a service holding the admin role),
else your \`latchkey login\`, else on the issuer's machine while it runs, its DATA_DIR credential.
The issuer: --issuer, LATCHKEY_ISSUER, else ISSUER_URL.
Exit codes: 0 done, 1 usage or invalid input, 2 not found, 3 could not reach the issuer (or the
database, for migrate), 4 not signed in or not allowed.
`;

const log = createLogger({ level: 'warn', format: 'json', name: 'latchkey' });
const print = (line: string) => {
  process.stdout.write(`${line}\n`);
};

async function migrateOne<Client extends PrismaLike>(
  target: DatabaseTarget,
  createClient: ClientFactory<Client>,
  directory: string,
): Promise<string[]> {
  const database = await openDatabase(target, createClient, log);
  try {
    return await migrate(database, directory, log);
  } finally {
    await database.close();
  }
}

async function migrateCommand(config: Config): Promise<Output> {
  const run = async () => ({
    issuer: await migrateOne(config.issuer.database, (adapter) => new IssuerClient({ adapter }), MIGRATIONS.issuer),
    tasks: await migrateOne(config.taskApi.database, (adapter) => new TasksClient({ adapter }), MIGRATIONS.tasks),
  });
  const applied = await run().catch((error: unknown) => {
    throw new CliError(EXIT.unreachable, (error as Error).message.split('\n')[0] ?? 'could not migrate');
  });
  const line = (name: string, target: DatabaseTarget, names: string[]) =>
    `${name} (${describeTarget(target)}): ${names.length ? `applied ${names.join(', ')}` : 'up to date'}`;
  return {
    json: {
      issuer: { database: describeTarget(config.issuer.database), applied: applied.issuer },
      tasks: { database: describeTarget(config.taskApi.database), applied: applied.tasks },
    },
    text: [
      line('issuer', config.issuer.database, applied.issuer),
      line('tasks', config.taskApi.database, applied.tasks),
    ].join('\n'),
  };
}

/**
 * The pre-deploy audit, with the deployment's own environment: it reads the stores (never writes)
 * and lists every finding; any error fails it (exit 1), for a CI gate before a deploy.
 */
async function deployCheckCommand(config: Config): Promise<Output> {
  const findings = reviewDeployment(config, process.env, await gatherDeploymentFacts(config, log));
  const errors = findings.filter((finding) => finding.level === 'error').length;
  const warnings = findings.filter((finding) => finding.level === 'warning').length;
  const verdict = errors
    ? `not ready for production: ${errors} error(s), ${warnings} warning(s)`
    : `ready for production${warnings ? `, with ${warnings} warning(s) to read` : ''}`;
  const output = {
    json: { ready: errors === 0, findings },
    text: [
      ...findings.map((finding) => `${finding.level.padEnd(8)} ${finding.area.padEnd(15)} ${finding.message}`),
      verdict,
    ].join('\n'),
  };
  if (errors) throw new CheckFailed(output);
  return output;
}

/** A check that ran and found errors: its report is printed, and the exit code says it failed. */
class CheckFailed extends Error {
  readonly output: Output;
  constructor(output: Output) {
    super('the deployment check found errors');
    this.output = output;
  }
}

/** Where the issuer is, and (when it runs on this machine) its port and data folder. */
function connectionSettings(values: CliValues, config: Config | undefined): ConnectionSettings {
  const issuer = (
    values.issuer ??
    process.env.LATCHKEY_ISSUER ??
    config?.issuer.url ??
    'http://localhost:3000'
  ).replace(/\/$/, '');
  const local =
    config && new URL(config.issuer.url).origin === new URL(issuer).origin
      ? { port: config.issuer.port, dataDir: config.dataDir }
      : undefined;
  return { issuer, local, env: process.env, json: values.json, openBrowser: !values['no-browser'], print };
}

async function sessionCommand(command: string, settings: ConnectionSettings): Promise<Output> {
  const session = adminSession(settings);
  if (command === 'login') {
    const { sub, email } = await session.login();
    return {
      json: { signedIn: true, sub, email, issuer: settings.issuer },
      text: `Signed in to ${settings.issuer} as ${email ?? sub ?? 'you'}.`,
    };
  }
  if (command === 'logout') {
    await session.logout();
    return { json: { signedOut: true }, text: 'Signed out.' };
  }
  const admin = await connect(settings);
  return { json: { issuer: settings.issuer, as: admin.describe }, text: `${settings.issuer}, as ${admin.describe}` };
}

async function run(args: string[]): Promise<Output | undefined> {
  let parsed;
  try {
    parsed = parseCli(args);
  } catch (error) {
    throw new CliError(EXIT.invalid, (error as Error).message);
  }
  const { positionals, values } = parsed;
  const [command, action, target, ...rest] = positionals;
  if (values.help || command === undefined) return undefined;
  // The configuration tells where a local issuer listens; a remote one needs none of it.
  let config: Config | undefined;
  try {
    config = loadConfig();
  } catch (error) {
    if (command === 'migrate' || command === 'check')
      throw new CliError(EXIT.invalid, (error as Error).message.split('\n')[0] ?? '');
  }
  if (command === 'migrate') return migrateCommand(config!);
  if (command === 'check') {
    if (!values.deploy) throw new CliError(EXIT.invalid, 'check needs --deploy');
    return deployCheckCommand(config!);
  }
  const settings = connectionSettings(values, config);
  if (command === 'login' || command === 'logout' || command === 'whoami') return sessionCommand(command, settings);
  const input: CommandInput = { action, target, rest, values };
  const commands: Record<string, (admin: Awaited<ReturnType<typeof connect>>) => Promise<Output>> = {
    user: (admin) => userCommand(admin, input),
    client: (admin) => clientCommand(admin, input),
    api: (admin) => apiCommand(admin, input),
    role: (admin) => roleCommand(admin, input),
    keys: (admin) => keysCommand(admin, input),
    audit: (admin) => auditCommand(admin, input, (who) => userId(admin, who)),
    webhook: (admin) => webhookCommand(admin, input),
    'api-key': (admin) => apiKeyCommand(admin, input, (who) => userId(admin, who)),
    idp: (admin) => idpCommand(admin, input),
  };
  const handler = commands[command];
  if (!handler) throw new CliError(EXIT.invalid, `unknown command "${command}"`);
  return handler(await connect(settings));
}

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  try {
    const output = await run(process.argv.slice(2));
    if (!output) {
      process.stdout.write(USAGE);
      return process.argv.includes('--help') || process.argv.includes('-h') ? EXIT.ok : EXIT.invalid;
    }
    print(json ? JSON.stringify(output.json) : output.text);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CheckFailed) {
      print(json ? JSON.stringify(error.output.json) : error.output.text);
      return EXIT.invalid;
    }
    const known = error instanceof CliError;
    const message = known ? error.message : `unexpected problem: ${(error as Error).message.split('\n')[0] ?? ''}`;
    if (json) print(JSON.stringify({ error: message }));
    process.stderr.write(`latchkey: ${message}\n`);
    return known ? error.exitCode : EXIT.unreachable;
  }
}

// Exit explicitly: Prisma's schema engine (migrate) leaves a timer behind that would hold the process.
process.exit(await main());
