import { errors, type Adapter } from 'oidc-provider';
import { isDependencyFailure, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../../shared/resilience/dependency-failure.ts';

/**
 * An OAuth `temporarily_unavailable` error (RFC 6749 §4.1.2.1) with status 503: what oidc-provider
 * answers, on any of its endpoints, when PostgreSQL or Redis is away, instead of a 500
 * `server_error`. The provider renders it as JSON, an error page, or a redirect to the client.
 */
export function temporarilyUnavailable(cause: unknown): Error {
  const error = new errors.TemporarilyUnavailable(
    'the server is briefly unable to handle the request; try again in a few seconds',
    { cause },
  );
  Object.assign(error, {
    status: 503,
    statusCode: 503,
    expose: true,
    headers: { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
  });
  return error;
}

/** Runs a storage call; a dependency failure becomes `temporarily_unavailable`, anything else stays as it was. */
export async function orUnavailable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw isDependencyFailure(error) ? temporarilyUnavailable(error) : error;
  }
}

/** The same adapter, with each storage call's outage turned into `temporarily_unavailable`. */
export function withOutageErrors(adapter: Adapter): Adapter {
  return new Proxy(adapter, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        orUnavailable(() => Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args)));
    },
  });
}

/** oidc-provider's error handler sets no headers from the error: say when to retry on every 503 it renders. */
export function retryAfterOnUnavailable() {
  return async (
    ctx: { status: number; set(field: string, value: string): void },
    next: () => Promise<void>,
  ): Promise<void> => {
    await next();
    if (ctx.status === 503) ctx.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
  };
}
