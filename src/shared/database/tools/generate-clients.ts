/**
 * Generates the typed Prisma clients (run by `npm install` as postinstall, and by `npm run db:generate`).
 * `prisma generate` needs no native engine, but the CLI tries to download one unless it is told where
 * one is; any existing file satisfies that check, and generation runs on the WebAssembly compiler.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const prismaCli = require.resolve('prisma/build/index.js');

for (const config of ['prisma/issuer.config.ts', 'prisma/tasks.config.ts']) {
  const result = spawnSync(process.execPath, [prismaCli, 'generate', '--config', config], {
    stdio: 'inherit',
    env: {
      ...process.env,
      PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
    },
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
