// Prisma CLI configuration for the task API's schema (see prisma/issuer.config.ts).
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'tasks/schema.prisma',
  migrations: { path: 'tasks/migrations' },
  datasource: {
    url: process.env.TASKS_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://localhost/latchkey?schema=tasks',
  },
});
