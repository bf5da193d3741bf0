/**
 * `npm run bench -- --scale`: the benchmark's database filled to production size before the
 * scenarios run, and the plan of every query on a hot path. The rows are made inside PostgreSQL
 * (INSERT ... SELECT over generate_series: no bytes cross the wire, faster than COPY from a client),
 * with the shapes Latchkey writes: a million accounts holding the default role, a hundred thousand
 * service clients holding a role, ten million refresh tokens over a million grants (a tenth already expired, for
 * the sweeper), five million security events.
 */
import type pg from 'pg';

export interface ScaleSizes {
  users: number;
  clients: number;
  refreshTokens: number;
  securityEvents: number;
}

export const FULL_SCALE: ScaleSizes = {
  users: 1_000_000,
  clients: 100_000,
  refreshTokens: 10_000_000,
  securityEvents: 5_000_000,
};

export const scaled = (factor: number): ScaleSizes => ({
  users: Math.round(FULL_SCALE.users * factor),
  clients: Math.round(FULL_SCALE.clients * factor),
  refreshTokens: Math.round(FULL_SCALE.refreshTokens * factor),
  securityEvents: Math.round(FULL_SCALE.securityEvents * factor),
});

/** Fills the tables; returns seconds taken per table. */
export async function seedAtScale(db: pg.Client, sizes: ScaleSizes): Promise<Record<string, number>> {
  const took: Record<string, number> = {};
  const timed = async (name: string, sql: string, values: unknown[] = []) => {
    const started = performance.now();
    await db.query(sql, values);
    took[name] = Math.round((performance.now() - started) / 100) / 10;
  };
  await timed(
    'users',
    `INSERT INTO users (id, email, email_verified, password_hash, updated_at)
     SELECT gen_random_uuid(), 'scale-' || n || '@example.com', true, '$argon2id$v=19$m=19456,t=2,p=1$c2NhbGU$c2NhbGU', now()
     FROM generate_series(1, $1) AS n`,
    [sizes.users],
  );
  await timed(
    'user_roles',
    `INSERT INTO user_roles (user_id, role_id)
     SELECT u.id, r.id FROM users u CROSS JOIN roles r WHERE r.is_default AND u.email LIKE 'scale-%'`,
  );
  await timed(
    'clients',
    `INSERT INTO clients (id, name, type, redirect_uris, post_logout_redirect_uris, grant_types, scopes, resources,
                          token_endpoint_auth_method, secret_hash, updated_at)
     SELECT 'scale-client-' || n, 'Scale client ' || n, 'service', '{}', '{}', '{client_credentials}', '{}', '{}',
            'client_secret_basic', md5(n::text), now()
     FROM generate_series(1, $1) AS n`,
    [sizes.clients],
  );
  await timed(
    'client_roles',
    `WITH role AS (
       INSERT INTO roles (id, name, description, updated_at)
       VALUES (gen_random_uuid(), 'scale-worker', 'Seeded services', now()) RETURNING id)
     INSERT INTO client_roles (client_id, role_id)
     SELECT c.id, role.id FROM clients c CROSS JOIN role WHERE c.id LIKE 'scale-client-%'`,
  );
  // Ten refresh tokens per grant; one grant record each; accounts spread over the seeded users.
  await timed(
    'oidc_records',
    `WITH seeded AS (SELECT id, row_number() OVER () AS k FROM users WHERE email LIKE 'scale-%'),
          total AS (SELECT count(*) AS users_count FROM seeded)
     INSERT INTO oidc_records (kind, id_hash, grant_id, account_id, payload, expires_at, consumed_at)
     SELECT 'RefreshToken', md5('rt' || n), 'scale-grant-' || (n / 10), s.id::text,
            jsonb_build_object('kind', 'RefreshToken', 'grantId', 'scale-grant-' || (n / 10), 'clientId', 'scale-client-1',
                               'accountId', s.id::text, 'scope', 'openid offline_access', 'iat', 1764547200),
            CASE WHEN n % 10 = 0 THEN now() - interval '2 days' ELSE now() + interval '14 days' END,
            CASE WHEN n % 10 < 9 THEN now() - interval '1 hour' END
     FROM generate_series(1, $1) AS n
     JOIN seeded s ON s.k = 1 + (n / 10) % (SELECT users_count FROM total)`,
    [sizes.refreshTokens],
  );
  await timed(
    'security_events',
    `WITH seeded AS (SELECT id, row_number() OVER () AS k FROM users WHERE email LIKE 'scale-%'),
          total AS (SELECT count(*) AS users_count FROM seeded)
     INSERT INTO security_events (at, type, user_id, actor, ip, detail)
     SELECT now() - (n || ' seconds')::interval, CASE WHEN n % 7 = 0 THEN 'sign_in.failed' ELSE 'sign_in.succeeded' END,
            s.id, 'user', '10.0.' || (n % 250) || '.' || (n % 200), jsonb_build_object('method', 'password')
     FROM generate_series(1, $1) AS n
     JOIN seeded s ON s.k = 1 + n % (SELECT users_count FROM total)`,
    [sizes.securityEvents],
  );
  // As a production database is after a bulk load: vacuumed (hint bits and the visibility map set,
  // so the measured requests do not pay for the load's first reads) and checkpointed (so its WAL is
  // not written back during them), with planner statistics.
  await timed('vacuum', 'VACUUM (ANALYZE)');
  await timed('checkpoint', 'CHECKPOINT');
  return took;
}

/**
 * The statements on hot paths, as the repositories send them (parameters filled with seeded
 * values), and whether PostgreSQL's plan for each reads through an index.
 */
export async function explainHotQueries(
  db: pg.Client,
): Promise<Array<{ name: string; plan: string; indexed: boolean }>> {
  const { rows: sample } = await db.query<{ user_id: string; email: string; grant_id: string; id_hash: string }>(
    `SELECT u.id AS user_id, u.email, r.grant_id, r.id_hash
     FROM users u JOIN oidc_records r ON r.account_id = u.id::text AND r.kind = 'RefreshToken'
     WHERE u.email LIKE 'scale-%' LIMIT 1`,
  );
  const { user_id: userId, email, grant_id: grantId, id_hash: idHash } = sample[0]!;
  const queries: Array<[string, string, unknown[]]> = [
    ['sign-in: account by email', 'SELECT id, password_hash, disabled_at FROM users WHERE email = $1', [email]],
    ['account by id (tokens, userinfo)', 'SELECT id, email, disabled_at FROM users WHERE id = $1', [userId]],
    [
      'role grants of a person (every token)',
      `SELECT r.name, p.api_id::text, p.scope_name FROM user_roles h JOIN roles r ON r.id = h.role_id
       LEFT JOIN role_permissions p ON p.role_id = r.id WHERE h.user_id = $1::uuid`,
      [userId],
    ],
    [
      'role grants of a service (client credentials)',
      `SELECT r.name, p.api_id::text, p.scope_name FROM client_roles h JOIN roles r ON r.id = h.role_id
       LEFT JOIN role_permissions p ON p.role_id = r.id WHERE h.client_id = $1`,
      ['scale-client-1'],
    ],
    ['client by id', 'SELECT * FROM clients WHERE id = $1', ['scale-client-1']],
    [
      'refresh token by id',
      `SELECT payload, consumed_at FROM oidc_records WHERE kind = 'RefreshToken' AND id_hash = $1`,
      [idHash],
    ],
    [
      'refresh token consumed once',
      `EXPLAIN_ONLY UPDATE oidc_records SET consumed_at = now() WHERE kind = 'RefreshToken' AND id_hash = $1 AND consumed_at IS NULL`,
      [idHash],
    ],
    [
      'grant revoked (reuse, logout)',
      `EXPLAIN_ONLY DELETE FROM oidc_records WHERE kind = 'RefreshToken' AND grant_id = $1`,
      [grantId],
    ],
    [
      "an account's live grants (account page)",
      `SELECT payload FROM oidc_records WHERE account_id = $1 AND kind = 'Grant' AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at`,
      [userId],
    ],
    [
      "a person's recent security events",
      'SELECT * FROM security_events WHERE user_id = $1 ORDER BY at DESC LIMIT 50',
      [userId],
    ],
    ['security log, newest first (console)', 'SELECT * FROM security_events ORDER BY id DESC LIMIT 50', []],
    [
      'one batch of the sweeper',
      `EXPLAIN_ONLY DELETE FROM oidc_records r USING (SELECT kind, id_hash FROM oidc_records WHERE expires_at < now() - interval '1 day' LIMIT 5000) e
       WHERE r.kind = e.kind AND r.id_hash = e.id_hash`,
      [],
    ],
  ];
  const plans = [];
  for (const [name, statement, values] of queries) {
    // Writes are explained without running (the scenarios after this still need the rows).
    const analyze = !statement.startsWith('EXPLAIN_ONLY ');
    const sql = statement.replace(/^EXPLAIN_ONLY /, '');
    const { rows } = await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (${analyze ? 'ANALYZE, BUFFERS, ' : ''}COSTS OFF) ${sql}`,
      values,
    );
    const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
    plans.push({
      name,
      plan,
      indexed: !/Seq Scan on (users|oidc_records|security_events|clients|user_roles|client_roles)\b/.test(plan),
    });
  }
  return plans;
}
