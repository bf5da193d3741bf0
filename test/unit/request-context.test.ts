import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError, classifyError } from '../../src/shared/http/errors.ts';
import { loggablePath, requestIdFrom } from '../../src/shared/http/request-context.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('request ids', () => {
  it('keeps a well-formed inbound X-Request-Id', () => {
    assert.equal(requestIdFrom('edge-7f3a9c21.lb:01'), 'edge-7f3a9c21.lb:01');
  });

  it('replaces an inbound id that could inject into logs or headers', () => {
    for (const bad of ['abc\ninjected', 'x'.repeat(129), '<script>alert(1)</script>', 'short', '']) {
      assert.match(requestIdFrom(bad), UUID);
    }
  });

  it('generates a UUID when none is sent', () => {
    assert.match(requestIdFrom(undefined), UUID);
  });
});

describe('error classification', () => {
  it('exposes an AppError as it was raised', () => {
    const classified = classifyError(new AppError(409, 'conflict', 'Already there.'));
    assert.deepEqual(classified, {
      status: 409,
      code: 'conflict',
      message: 'Already there.',
      headers: {},
      unexpected: false,
    });
  });

  it('hides the message of an unexpected error behind a generic 500', () => {
    const classified = classifyError(new Error('relation "users" does not exist at character 15'));
    assert.equal(classified.status, 500);
    assert.equal(classified.code, 'internal_error');
    assert.ok(!classified.message.includes('relation'));
    assert.equal(classified.unexpected, true);
  });

  it('maps an exposed HTTP client error (a too-large body) to a fixed message', () => {
    const error = Object.assign(new Error('request entity too large: limit 1mb, got 5mb'), {
      status: 413,
      expose: true,
    });
    assert.deepEqual(classifyError(error), {
      status: 413,
      code: 'payload_too_large',
      message: 'The request body is too large.',
      headers: {},
      unexpected: false,
    });
  });
});

describe('loggablePath', () => {
  it('drops the mailed token from magic-link, reset and verification paths', () => {
    assert.equal(loggablePath('/interaction/abc/magic/SECRETTOKEN'), '/interaction/abc/magic/[redacted]');
    assert.equal(loggablePath('/reset/SECRETTOKEN'), '/reset/[redacted]');
    assert.equal(loggablePath('/verify-email/SECRETTOKEN'), '/verify-email/[redacted]');
  });

  it('leaves other paths as they are', () => {
    assert.equal(loggablePath('/interaction/abc/login'), '/interaction/abc/login');
    assert.equal(loggablePath('/reset'), '/reset');
  });
});
