import type pg from 'pg';

/** What a hot statement needs of a Prisma client: its raw queries, for the embedded database. */
export interface RawQueries {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

/**
 * Statements on the request paths that run on every token or API call, written as SQL once: on
 * PostgreSQL each is a named prepared statement on the pool Prisma shares (parsed and planned once
 * per connection); on the embedded database the same text goes through Prisma's raw query. A
 * Prisma call costs three to four times the CPU of the prepared statement
 * (test/benchmark/probe/task-read-cost.ts, docs/benchmarks.md), and these run thousands of times a
 * second. Everything else stays on Prisma; each repository remains the only door to its table.
 */
export function hotStatements(db: RawQueries, pool: pg.Pool | undefined) {
  return {
    async rows<Row>(name: string, text: string, values: unknown[]): Promise<Row[]> {
      if (pool) return (await pool.query<Row & pg.QueryResultRow>({ name, text, values })).rows;
      return db.$queryRawUnsafe<Row[]>(text, ...values);
    },

    /** How many rows an INSERT, UPDATE or DELETE touched. */
    async changed(name: string, text: string, values: unknown[]): Promise<number> {
      if (pool) return (await pool.query({ name, text, values })).rowCount ?? 0;
      return db.$executeRawUnsafe(text, ...values);
    },
  };
}

export type HotStatements = ReturnType<typeof hotStatements>;
