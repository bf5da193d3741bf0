import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../logging/logger.ts';
import { classifyError, type ErrorEnvelope } from './errors.ts';

export interface RequestState {
  requestId: string;
  log: Logger;
}

/** An inbound id is echoed only when it is short and plain, so it cannot inject into logs or headers. */
const WELL_FORMED_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export function requestIdFrom(header: string | string[] | undefined): string {
  const candidate = Array.isArray(header) ? header[0] : header;
  return candidate !== undefined && WELL_FORMED_REQUEST_ID.test(candidate) ? candidate : randomUUID();
}

/** Paths that carry a mailed token as a segment; the access log shows them without it. */
const TOKEN_IN_PATH = /\/(magic|reset|verify-email)\/[^/]+/g;
export const loggablePath = (path: string) => path.replace(TOKEN_IN_PATH, '/$1/[redacted]');

/**
 * The outermost middleware of every app: gives the request an id and a child logger, writes one
 * access-log line (path only: query strings carry codes and tokens), and turns every error into
 * the one JSON envelope.
 */
export function requestContext(log: Logger): Middleware<RequestState> {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const requestId = requestIdFrom(ctx.get('x-request-id') || undefined);
    ctx.state.requestId = requestId;
    // The request's own logger is made when something asks for it: most requests log nothing but the
    // access line, which names the request id itself.
    let requestLog: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', {
      get: () => (requestLog ??= log.child({ requestId })),
      set: (value: Logger) => (requestLog = value),
      enumerable: true,
      configurable: true,
    });
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = envelope('not_found', 'Not found.', requestId);
      }
    } catch (error) {
      const classified = classifyError(error);
      if (classified.unexpected) ctx.state.log.error({ err: error }, 'unhandled error');
      else if (classified.status === 503)
        ctx.state.log.warn({ err: error }, 'a dependency is unavailable; answered 503');
      ctx.status = classified.status;
      ctx.set(classified.headers);
      ctx.body = envelope(classified.code, classified.message, requestId);
    } finally {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      // Probes hit these every few seconds; at info level they would drown the log.
      const level = ctx.path === '/healthz' || ctx.path === '/readyz' ? 'debug' : 'info';
      (requestLog ?? log)[level](
        {
          ...(requestLog ? {} : { requestId }),
          method: ctx.method,
          path: loggablePath(ctx.path),
          status: ctx.status,
          durationMs: Math.round(durationMs * 10) / 10,
        },
        'request',
      );
    }
  };
}

export function envelope(code: string, message: string, requestId: string): ErrorEnvelope {
  return { error: { code, message, requestId } };
}
