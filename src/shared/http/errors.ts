import { isDependencyFailure, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../resilience/dependency-failure.ts';

/**
 * One error type for everything our own routes refuse. `code` is stable and machine-readable;
 * `message` is safe to show to the caller. Anything that is not an AppError is treated as a bug:
 * logged in full, answered with a generic 500.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  /** For a person in a browser: where to go from here (the error page shows it as a link; JSON ignores it). */
  readonly wayForward: WayForward | undefined;
  /** For a person in a browser: the page's heading, when the status's general one would mislead. */
  readonly pageTitle: string | undefined;
  readonly expose = true;

  constructor(
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
    wayForward?: WayForward,
    pageTitle?: string,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.wayForward = wayForward;
    this.pageTitle = pageTitle;
  }
}

export interface WayForward {
  href: string;
  text: string;
}

export const badRequest = (message: string, code = 'invalid_request') => new AppError(400, code, message);
export const notFound = (message = 'Not found.') => new AppError(404, 'not_found', message);

export interface ErrorEnvelope {
  error: { code: string; message: string; requestId: string };
}

/** Client errors raised by koa itself or its body parsers, mapped to stable codes and fixed messages. */
const HTTP_CLIENT_ERRORS: Record<number, { code: string; message: string }> = {
  400: { code: 'invalid_request', message: 'The request could not be understood.' },
  401: { code: 'unauthorized', message: 'Authentication is required.' },
  403: { code: 'forbidden', message: 'You are not allowed to do that.' },
  404: { code: 'not_found', message: 'Not found.' },
  405: { code: 'method_not_allowed', message: 'That method is not allowed here.' },
  406: { code: 'not_acceptable', message: 'No acceptable representation.' },
  413: { code: 'payload_too_large', message: 'The request body is too large.' },
  415: { code: 'unsupported_media_type', message: 'That content type is not supported.' },
  429: { code: 'rate_limited', message: 'Too many requests; try again later.' },
};

export interface ClassifiedError {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
  /** True when this is not a client error: the details belong in the log, not the response. */
  unexpected: boolean;
}

/** Decides what a caller may learn about an error. Never returns the original message of a non-AppError. */
export function classifyError(error: unknown): ClassifiedError {
  if (error instanceof AppError) {
    return {
      status: error.status,
      code: error.code,
      message: error.message,
      headers: error.headers,
      unexpected: error.status >= 500,
    };
  }
  if (isDependencyFailure(error)) {
    return {
      status: 503,
      code: 'temporarily_unavailable',
      message: 'The service is briefly unavailable; try again in a few seconds.',
      headers: { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
      unexpected: false,
    };
  }
  const status =
    typeof (error as { status?: unknown })?.status === 'number' ? (error as { status: number }).status : 500;
  const known = HTTP_CLIENT_ERRORS[status];
  if (known && (error as { expose?: unknown }).expose === true) {
    return { status, ...known, headers: {}, unexpected: false };
  }
  return {
    status: 500,
    code: 'internal_error',
    message: 'Something went wrong on our side.',
    headers: {},
    unexpected: true,
  };
}
