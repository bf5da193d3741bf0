import { PrismaClient } from '../shared/database/generated/tasks/client.ts';
import { MIGRATIONS } from '../shared/database/migrations.ts';
import { buildTaskApiApp } from './task-api-app.ts';
import type { ServiceDefinition } from '../shared/lifecycle/service.ts';

/** The task API: a resource server that knows callers only through the issuer's access tokens. */
export const taskApiService: ServiceDefinition<PrismaClient> = {
  name: 'task-api',
  endpoint: (config) => config.taskApi,
  metricsPort: (config) => config.metrics.taskApiPort,
  database: (config) => config.taskApi.database,
  migrationsDirectory: MIGRATIONS.tasks,
  createClient: (adapter) => new PrismaClient({ adapter }),
  buildApp: (dependencies) => buildTaskApiApp(dependencies),
};
