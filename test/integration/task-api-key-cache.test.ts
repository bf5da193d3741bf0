import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { issuerKeys } from '../../src/shared/auth/issuer-keys.ts';
import { buildTaskApiApp } from '../../src/resource-server/task-api-app.ts';
import { taskApiService } from '../../src/resource-server/task-api-service.ts';
import { withLowS } from '../../src/shared/crypto/compact-jws.ts';
import { startService } from '../../src/shared/lifecycle/service.ts';
import { temporaryDirectory, testConfig } from '../support/environment.ts';
import { freePort } from '../support/processes.ts';

/** A stand-in issuer on a real port: discovery and a JWKS; it counts JWKS fetches and can go down and come back. */
async function fakeIssuer(jwk: JWK) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let jwksFetches = 0;
  let server: Server | undefined;
  const up = () =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/.well-known/openid-configuration')
          res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks` }));
        else {
          jwksFetches += 1;
          res.end(JSON.stringify({ keys: [jwk] }));
        }
      });
      server.listen(port, '127.0.0.1', resolve);
    });
  const down = () =>
    new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
      server = undefined;
    });
  await up();
  return { url, up, down, fetches: () => jwksFetches };
}

describe('issuer key cache', () => {
  let privateKey: CryptoKey;
  let jwk: JWK;

  before(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'real', alg: 'ES256', use: 'sig' };
  });
  const sign = (issuer: string, kid: string) =>
    new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(issuer).sign(privateKey);
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('refetches the JWKS at most once per cooldown under a storm of unknown kids', async () => {
    const issuer = await fakeIssuer(jwk);
    try {
      const keys = issuerKeys({ issuer: issuer.url, cooldownMs: 60_000 });
      await jwtVerify(await sign(issuer.url, 'real'), keys);
      const bogus = await Promise.all(Array.from({ length: 50 }, (_, i) => sign(issuer.url, `bogus-${i}`)));
      const results = await Promise.allSettled(bogus.map((token) => jwtVerify(token, keys)));
      assert.ok(results.every((result) => result.status === 'rejected'));
      assert.ok(issuer.fetches() <= 2, `fetched the JWKS ${issuer.fetches()} times`);
    } finally {
      await issuer.down();
    }
  });

  it('attack: tries the issuer at most once per cooldown under a storm of unknown kids while it refuses connections', async () => {
    const issuer = await fakeIssuer(jwk);
    const keys = issuerKeys({ issuer: issuer.url, cooldownMs: 60_000 });
    await jwtVerify(await sign(issuer.url, 'real'), keys);
    await issuer.down();
    // Count every connection attempt at the issuer's address: a listener that resets each one.
    let attempts = 0;
    const refuser = net.createServer((socket) => {
      attempts += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => refuser.listen(Number(new URL(issuer.url).port), '127.0.0.1', resolve));
    try {
      const bogus = await Promise.all(Array.from({ length: 200 }, (_, i) => sign(issuer.url, `made-up-${i}`)));
      const results = await Promise.allSettled(bogus.map((token) => jwtVerify(token, keys)));
      assert.ok(results.every((result) => result.status === 'rejected'));
      assert.ok(attempts <= 2, `the issuer was tried ${attempts} times`);
      await jwtVerify(await sign(issuer.url, 'real'), keys);
    } finally {
      refuser.close();
    }
  });

  it("keeps verifying known keys with the issuer unreachable past the key set's age, says so, and refreshes when it returns", async () => {
    const issuer = await fakeIssuer(jwk);
    const keys = issuerKeys({ issuer: issuer.url, cooldownMs: 50, maxAgeMs: 100 });
    await jwtVerify(await sign(issuer.url, 'real'), keys);
    assert.equal(keys.state(), 'fresh');
    await issuer.down();
    await pause(200);
    await jwtVerify(await sign(issuer.url, 'real'), keys);
    assert.equal(keys.state(), 'stale');
    await issuer.up();
    await pause(100);
    await jwtVerify(await sign(issuer.url, 'real'), keys);
    assert.equal(keys.state(), 'fresh');
    await issuer.down();
  });

  it('stops trusting the last key set once it is older than the stale-if-error bound', async () => {
    const issuer = await fakeIssuer(jwk);
    const keys = issuerKeys({ issuer: issuer.url, cooldownMs: 50, maxAgeMs: 50, staleIfErrorMs: 200 });
    await jwtVerify(await sign(issuer.url, 'real'), keys);
    await issuer.down();
    await pause(300);
    await assert.rejects(jwtVerify(await sign(issuer.url, 'real'), keys));
  });
});

describe('task API with the issuer away', () => {
  it('keeps serving callers with known keys, and /readyz says the issuer keys are stale', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const issuer = await fakeIssuer({ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' });
    const dir = await temporaryDirectory();
    const port = await freePort();
    const apiUrl = `http://127.0.0.1:${port}`;
    const api = await startService(
      {
        ...taskApiService,
        buildApp: (dependencies) => buildTaskApiApp(dependencies, { jwksCooldownMs: 50, jwksMaxAgeMs: 100 }),
      },
      testConfig(dir.path, {
        ISSUER_URL: issuer.url,
        TASK_API_URL: apiUrl,
        TASK_API_PORT: String(port),
        LOG_LEVEL: 'silent',
      }),
      { port },
    );
    const token = async () =>
      withLowS(
        await new SignJWT({ client_id: 'app', scope: 'tasks:read', jti: crypto.randomUUID() })
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
          .setIssuer(issuer.url)
          .setAudience(apiUrl)
          .setSubject(crypto.randomUUID())
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(privateKey),
      );
    const list = async () =>
      (await fetch(`${apiUrl}/tasks/mine`, { headers: { authorization: `Bearer ${await token()}` } })).status;
    try {
      assert.equal(await list(), 200);
      await issuer.down();
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(await list(), 200, 'a known key still verifies with the issuer away');
      const ready = (await (await fetch(`${apiUrl}/readyz`)).json()) as {
        status: string;
        details: { issuer_keys: string };
      };
      assert.equal(ready.status, 'ready');
      assert.equal(ready.details.issuer_keys, 'stale');
    } finally {
      await api.stop();
      await dir.remove();
      await issuer.down();
    }
  });
});
