import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_CLIENT_IDS, ensureDemoClients } from '../../src/demo/demo-setup.ts';
import { apiRepository } from '../../src/issuer/apis/api-repository.ts';
import { apiService } from '../../src/issuer/apis/api-service.ts';
import { clientRepository } from '../../src/issuer/clients/client-repository.ts';
import { clientService } from '../../src/issuer/clients/client-service.ts';
import { createLogger } from '../../src/shared/logging/logger.ts';
import { freshPostgresDatabase, REAL_POSTGRES_URL } from '../support/environment.ts';
import { startIssuer, type IssuerHarness } from '../support/issuer-harness.ts';
import { captureLog } from '../support/log-capture.ts';

/** The demo's own clients on a database of their own (their ids are fixed). */
describe('the demo set-up', () => {
  let issuer: IssuerHarness;
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>> | undefined;
  const issuerLog = captureLog();

  before(async () => {
    database = REAL_POSTGRES_URL ? await freshPostgresDatabase() : undefined;
    issuer = await startIssuer(database ? { DATABASE_URL: database.url } : {}, { logDestination: issuerLog.stream });
  });
  after(async () => {
    await issuer.stop();
    await database?.drop();
  });

  it('moves the demo clients to the current addresses at the next start, saying so in the log', async () => {
    const db = issuer.service.database.client;
    const apis = apiService(apiRepository(db));
    const services = { clients: clientService(clientRepository(db), apis), apis, roles: issuer.roles };
    const log = captureLog();
    const logger = createLogger({ name: 'test', level: 'info', format: 'json' }, log.stream);
    const dataDir = issuer.service.config.dataDir;
    await ensureDemoClients(
      services,
      { spaUrl: 'http://localhost:5173', dataDir, taskApiUrl: 'http://localhost:4000' },
      logger,
    );
    await ensureDemoClients(
      services,
      { spaUrl: 'http://127.0.0.1:6173', dataDir, taskApiUrl: 'http://127.0.0.1:6000' },
      logger,
    );
    const spa = await services.clients.find(DEMO_CLIENT_IDS.spa);
    assert.deepEqual(spa?.redirectUris, ['http://127.0.0.1:6173/']);
    assert.equal(spa?.clientUri, 'http://127.0.0.1:6173/', 'its home page, where sign-up and reset lead back to');
    assert.deepEqual(spa?.resources, ['http://127.0.0.1:6000']);
    assert.deepEqual((await services.clients.find(DEMO_CLIENT_IDS.worker))?.resources, ['http://127.0.0.1:6000']);
    assert.ok(
      log.entries().some((entry) => entry.msg === 'demo clients follow the current addresses'),
      log.text(),
    );
  });

  it('says in the log why an authorization request was refused', async () => {
    const app = await issuer.createClient({ type: 'spa', redirectUris: ['http://127.0.0.1:6173/'], firstParty: true });
    const url = new URL(`${issuer.url}/auth`);
    url.search = new URLSearchParams({
      client_id: app.id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: 'http://localhost:5173/',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    assert.equal(response.status, 400);
    const refused = issuerLog.entries().find((entry) => entry.msg === 'authorization request refused');
    assert.ok(refused, issuerLog.text().slice(-2000));
    assert.equal(refused.clientId, app.id);
    assert.match(String(refused.description), /redirect_uri did not match/);
  });
});
