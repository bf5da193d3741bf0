import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scrubAttributes, scrubPath } from '../../src/shared/observability/span-scrubbing.ts';

describe('what a span may carry out of the process', () => {
  it('drops the query and masks path segments that could be a token, an interaction id or an address', () => {
    assert.equal(scrubPath('/auth?client_id=app&login_hint=ada@example.com&code_challenge=x'), '/auth');
    assert.equal(
      scrubPath('/interaction/AbCdEfGhIjKlMnOpQrSt1/magic/3f9a8b7c6d5e4f3a2b1c0d9e'),
      '/interaction/:id/magic/:id',
    );
    assert.equal(scrubPath('/users/ada@example.com/passkeys'), '/users/:id/passkeys');
    assert.equal(scrubPath('POST /interaction/:uid/login'), 'POST /interaction/:uid/login');
    assert.equal(scrubPath('/callback#access_token=abc'), '/callback');
  });

  it('keeps a URL’s origin and path, and drops query strings, headers and user agents', () => {
    const kept = scrubAttributes({
      'url.full': 'http://127.0.0.1:5999/callback?code=secret-code&state=s',
      'url.path': '/reset/0123456789abcdefghij',
      'url.query': 'code=secret-code',
      'http.request.header.cookie': ['_session=secret'],
      'user_agent.original': 'Mozilla/5.0',
      'http.route': '/interaction/:uid/login',
      'http.response.status_code': 303,
    });
    assert.deepEqual(kept, {
      'url.full': 'http://127.0.0.1:5999/callback',
      'url.path': '/reset/:id',
      'http.route': '/interaction/:uid/login',
      'http.response.status_code': 303,
    });
  });
});
