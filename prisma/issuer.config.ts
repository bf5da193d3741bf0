// Prisma CLI configuration for the issuer's schema. Latchkey itself connects through driver
// adapters (see src/shared/database); this file serves `prisma generate`, `prisma migrate deploy`
// where the native engine is available, and `npm run db:new-migration`.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'schema.prisma',
  migrations: { path: 'migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost/latchkey' },
});
