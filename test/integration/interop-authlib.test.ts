import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { APP_REDIRECT_URI, startIssuer, TEST_PASSWORD, type IssuerHarness } from '../support/issuer-harness.ts';
import { projectRoot } from '../support/processes.ts';

/** Debian's Python with python3-authlib and python3-requests, as .ci/run installs them. */
const PYTHON = process.env.INTEROP_PYTHON ?? '/usr/bin/python3';

async function authlibAvailable(): Promise<boolean> {
  if (!existsSync(PYTHON)) return false;
  const probe = spawn(PYTHON, ['-c', 'import authlib, requests'], { stdio: 'ignore' });
  return new Promise<boolean>((resolve) => probe.on('exit', (code) => resolve(code === 0)));
}

describe('interoperability: Python Authlib as the relying party', () => {
  let issuer: IssuerHarness;
  let available = false;

  before(async () => {
    available = await authlibAvailable();
    issuer = await startIssuer();
  });
  after(() => issuer.stop());

  it('signs in with Authorization Code + PKCE (ID token validated, userinfo read), refreshes, introspects and gets a client-credentials token', async (t) => {
    if (!available) {
      t.skip('python3-authlib is not installed');
      return;
    }
    const web = await issuer.createClient({ type: 'web', redirectUris: [APP_REDIRECT_URI], firstParty: true });
    const service = await issuer.createClient({ type: 'service' });
    const user = await issuer.createUser();
    const run = spawn(PYTHON, [path.join(projectRoot, 'test/interop/authlib_rp.py')], {
      env: {
        PATH: process.env.PATH,
        ISSUER: issuer.url,
        REDIRECT_URI: APP_REDIRECT_URI,
        WEB_ID: web.id,
        WEB_SECRET: web.secret!,
        SERVICE_ID: service.id,
        SERVICE_SECRET: service.secret!,
        EMAIL: user.email,
        PASSWORD: TEST_PASSWORD,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    run.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    run.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => run.on('exit', resolve));
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout) as Record<string, Record<string, unknown>>;
    assert.deepEqual(result.code_flow, {
      token_type: 'Bearer',
      has_refresh_token: true,
      id_token_sub: user.id,
      id_token_acr: 'urn:latchkey:pwd',
      userinfo_email: user.email,
    });
    assert.deepEqual(result.refresh, { rotated: true, has_access_token: true });
    assert.deepEqual(result.introspection, { active: true, client_id: web.id });
    assert.deepEqual(result.client_credentials, { token_type: 'Bearer', scope: 'tasks:work' });
  });
});
