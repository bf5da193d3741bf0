import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freshPostgresDatabase, REAL_POSTGRES_URL } from '../support/environment.ts';
import { startIssuer, TEST_PASSWORD } from '../support/issuer-harness.ts';
import { UserAgent } from '../support/user-agent.ts';

/** Each test needs a database with no administrator yet: a new one on PostgreSQL, as embedded. */
async function issuerWithoutAdministrator(overrides: Record<string, string> = {}) {
  const database = REAL_POSTGRES_URL ? await freshPostgresDatabase() : undefined;
  const issuer = await startIssuer({ ...(database ? { DATABASE_URL: database.url } : {}), ...overrides });
  return {
    issuer,
    stop: async () => {
      await issuer.stop();
      await database?.drop();
    },
  };
}

const rolesOf = async (issuer: Awaited<ReturnType<typeof startIssuer>>, email: string) =>
  (
    await issuer.service.database.client.user.findUnique({
      where: { email },
      include: { roles: { include: { role: true } } },
    })
  )?.roles
    .map((held) => held.role.name)
    .sort();

describe('the first administrator', () => {
  it('is created through the one-time link printed at start, which then stops working', async () => {
    const { issuer, stop } = await issuerWithoutAdministrator();
    try {
      const link = /(http:\/\/\S+\/setup\/[A-Za-z0-9_-]{43})/.exec(issuer.announcements.join(''))?.[1];
      assert.ok(link, `a setup link among: ${issuer.announcements.join('')}`);
      const agent = new UserAgent();
      const page = await agent.request(link);
      assert.equal(page.status, 200);
      const weak = await agent.submitForm(
        link,
        { csrf: agent.formToken(), email: 'root@example.com', password: 'short' },
        issuer.url,
      );
      assert.equal(weak.response.status, 400, 'the password policy applies');
      const { response } = await agent.submitForm(
        link,
        { csrf: agent.formToken(), email: 'Root@Example.com', password: TEST_PASSWORD },
        issuer.url,
      );
      assert.equal(response.status, 200);
      assert.match(await response.text(), /two-step verification/);
      assert.deepEqual(await rolesOf(issuer, 'root@example.com'), ['admin', 'user']);
      assert.equal((await new UserAgent().request(link)).status, 410, 'used once, then gone');
      const events = await issuer.service.database.client.securityEvent.findMany({
        where: { type: 'admin.first_administrator' },
      });
      assert.equal(events.length, 1);
    } finally {
      await stop();
    }
  });

  it('refuses a link it did not print', async () => {
    const { issuer, stop } = await issuerWithoutAdministrator();
    try {
      assert.equal((await new UserAgent().request(`${issuer.url}/setup/${'A'.repeat(43)}`)).status, 410);
    } finally {
      await stop();
    }
  });

  it('is created at the first start from LATCHKEY_BOOTSTRAP_ADMIN_EMAIL and its password, with no link printed', async () => {
    const { issuer, stop } = await issuerWithoutAdministrator({
      LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: 'ops@example.com',
      LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: TEST_PASSWORD,
    });
    try {
      assert.deepEqual(await rolesOf(issuer, 'ops@example.com'), ['admin', 'user']);
      assert.equal(issuer.announcements.join(''), '');
    } finally {
      await stop();
    }
  });
});
