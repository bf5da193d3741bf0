/**
 * Authors the next migration from changes to a schema.prisma, without the native engine:
 * replays the existing migrations into a throwaway PGlite, diffs it against the schema with
 * Prisma's WebAssembly schema engine, and writes prisma/.../migrations/<timestamp>_<name>/migration.sql.
 *
 *   npm run db:new-migration -- issuer add_sessions
 *   npm run db:new-migration -- tasks add_priority
 */
import path from 'node:path';
import { createPgliteMigration } from 'prisma-pglite';

const configs = { issuer: 'prisma/issuer.config.ts', tasks: 'prisma/tasks.config.ts' } as const;
const [which, name] = process.argv.slice(2);

if (!which || !(which in configs) || !name || !/^[a-z0-9_]+$/.test(name)) {
  process.stderr.write('usage: npm run db:new-migration -- <issuer|tasks> <name_in_snake_case>\n');
  process.exit(1);
}

const created = await createPgliteMigration({
  migrationName: name,
  prismaConfigPath: path.resolve(configs[which as keyof typeof configs]),
});
process.stdout.write(
  created
    ? `created ${path.relative(process.cwd(), created.migrationDirPath)}\n`
    : 'no changes: the migrations already match the schema\n',
);
