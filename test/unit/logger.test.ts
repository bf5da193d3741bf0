import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/shared/logging/logger.ts';
import { captureLog } from '../support/log-capture.ts';

describe('logger', () => {
  it('redacts secret fields at any depth a log object reaches', () => {
    const capture = captureLog();
    const log = createLogger({ level: 'info', format: 'json', name: 'test' }, capture.stream);
    log.info(
      {
        password: 'correct horse battery',
        req: {
          headers: { authorization: 'Bearer eyJhbGciOi.secret', cookie: 'sid=abc123', 'set-cookie': 'sid=def456' },
        },
        body: { form: { client_secret: 'cs-789', refresh_token: 'rt-000', code: 'ac-111' } },
        user: 'alice@example.com',
      },
      'event',
    );
    const text = capture.text();
    for (const secret of [
      'correct horse battery',
      'eyJhbGciOi.secret',
      'sid=abc123',
      'sid=def456',
      'cs-789',
      'rt-000',
      'ac-111',
    ]) {
      assert.ok(!text.includes(secret), `log must not contain ${secret}`);
    }
    const [entry] = capture.entries();
    assert.equal(entry?.password, '[redacted]');
    assert.equal(entry?.user, 'alice@example.com');
  });

  it('keeps the code of an error (Prisma, Node, SQLSTATE) while redacting codes we issue', () => {
    const capture = captureLog();
    const log = createLogger({ level: 'info', format: 'json', name: 'test' }, capture.stream);
    const errors = ['P1001', 'ECONNREFUSED', 'ERR_STREAM_PREMATURE_CLOSE', '57P01', '08006'];
    const issued = ['Xq3t8mWk0Zb2Lr9sVd1yPc4nHf6jGa5eTu7oKi0wQzE', '123456', 'BCDFGHJK'];
    log.info({ errors: errors.map((code) => ({ code })), issued: issued.map((code) => ({ code })) }, 'event');
    const [entry] = capture.entries() as Array<{ errors: Array<{ code: string }>; issued: Array<{ code: string }> }>;
    assert.deepEqual(
      entry?.errors.map((error) => error.code),
      errors,
    );
    assert.deepEqual(
      entry?.issued.map((item) => item.code),
      issued.map(() => '[redacted]'),
    );
  });

  it('writes one JSON object per line with the level as a word', () => {
    const capture = captureLog();
    createLogger({ level: 'info', format: 'json', name: 'test' }, capture.stream).warn('careful');
    const [entry] = capture.entries();
    assert.equal(entry?.level, 'warn');
    assert.equal(entry?.msg, 'careful');
    assert.equal(entry?.name, 'test');
  });
});
