import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';

/** Attributes that only ever carry what a client sent in a query string or a header (codes, hints, cookies). */
const DROPPED =
  /^(url\.query|http\.request\.header\.|http\.response\.header\.|http\.request\.body|http\.user_agent$|user_agent\.original$)/;
/** Attributes holding a URL or a path: kept without their query and with secret-looking segments masked. */
const URL_LIKE = new Set(['url.full', 'http.url', 'http.target', 'url.path']);

/**
 * A path with nothing secret left: the query and fragment dropped (authorization codes, login
 * hints, `state`), and each segment that could be a token, an interaction id or an address
 * (16 or more URL-safe characters, or anything with an `@`) replaced by `:id`.
 */
export function scrubPath(value: string): string {
  const [beforeQuery = ''] = value.split(/[?#]/, 1);
  return beforeQuery
    .split('/')
    .map((segment) => (segment.includes('@') || /^[A-Za-z0-9_~.%-]{16,}$/.test(segment) ? ':id' : segment))
    .join('/');
}

/** The attributes a span may leave the process with (see DROPPED and URL_LIKE). */
export function scrubAttributes(attributes: Attributes): Attributes {
  const kept: Attributes = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (DROPPED.test(name) || value === undefined) continue;
    kept[name] = URL_LIKE.has(name) && typeof value === 'string' ? scrubURL(value) : value;
  }
  return kept;
}

function scrubURL(value: string): string {
  if (!URL.canParse(value)) return scrubPath(value);
  const url = new URL(value);
  return `${url.protocol}//${url.host}${scrubPath(url.pathname)}`;
}

/**
 * Wraps the exporting processor: every ended span is passed on with scrubbed attributes and name,
 * so no exporter, whatever it is configured to send, sees a secret.
 */
export function withoutSecrets(exporting: SpanProcessor): SpanProcessor {
  return {
    onStart: (span, context) => exporting.onStart(span, context),
    onEnd(span: ReadableSpan) {
      const scrubbed = Object.create(span) as ReadableSpan;
      Object.defineProperty(scrubbed, 'attributes', { value: scrubAttributes(span.attributes) });
      Object.defineProperty(scrubbed, 'name', { value: scrubPath(span.name) });
      exporting.onEnd(scrubbed);
    },
    forceFlush: () => exporting.forceFlush(),
    shutdown: () => exporting.shutdown(),
  };
}
