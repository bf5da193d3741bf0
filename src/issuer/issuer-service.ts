import { PrismaClient } from '../shared/database/generated/issuer/client.ts';
import { MIGRATIONS } from '../shared/database/migrations.ts';
import { buildIssuerApp } from './issuer-app.ts';
import type { ServiceDefinition } from '../shared/lifecycle/service.ts';

export type IssuerDatabaseClient = PrismaClient;

/** The issuer process: accounts, sign-in and (with oidc-provider) the OAuth/OIDC endpoints. */
export const issuerService: ServiceDefinition<PrismaClient> = {
  name: 'issuer',
  endpoint: (config) => config.issuer,
  metricsPort: (config) => config.metrics.issuerPort,
  database: (config) => config.issuer.database,
  migrationsDirectory: MIGRATIONS.issuer,
  createClient: (adapter) => new PrismaClient({ adapter }),
  buildApp: buildIssuerApp,
};
