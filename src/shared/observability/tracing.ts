/**
 * OpenTelemetry tracing, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set. Loaded before the
 * application (`node --import ./src/shared/observability/tracing.ts src/issuer/main.ts`; the npm
 * start scripts and the image do), so that koa, pg and ioredis, imported afterwards, are instrumented
 * (ES modules need the loader hook registered first). The standard OTEL_* variables apply
 * (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER...).
 *
 * No secret reaches an exporter: every span passes `withoutSecrets` on its way out (query strings
 * dropped, token-like path segments replaced), Redis spans carry the command name only, and
 * PostgreSQL spans the parameterized statement without its values.
 */
import { register } from 'node:module';
import { onTracingShutdown } from './trace-flush.ts';

if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) await startTracing();

async function startTracing(): Promise<void> {
  // Traces only: metrics are Prometheus's (metrics.ts) and logs go to standard output.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const [{ NodeSDK }, { OTLPTraceExporter }, { BatchSpanProcessor }, http, koa, pg, ioredis, { withoutSecrets }] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-koa'),
      import('@opentelemetry/instrumentation-pg'),
      import('@opentelemetry/instrumentation-ioredis'),
      import('./span-scrubbing.ts'),
    ]);
  const exporting = new BatchSpanProcessor({ exporter: new OTLPTraceExporter() });
  const sdk = new NodeSDK({
    spanProcessors: [withoutSecrets(exporting)],
    instrumentations: [
      new http.HttpInstrumentation({
        // The exporter's own requests are not traced.
        ignoreOutgoingRequestHook: (request) => String(request.path ?? '').startsWith('/v1/traces'),
      }),
      // Route spans only: a span per middleware (two dozen per request) says little and costs much.
      new koa.KoaInstrumentation({ ignoreLayersType: [koa.KoaLayerType.MIDDLEWARE] }),
      new pg.PgInstrumentation({ enhancedDatabaseReporting: false }),
      new ioredis.IORedisInstrumentation({ dbStatementSerializer: (command) => command }),
    ],
  });
  sdk.start();
  // The service's stop flushes the spans still batched (flushTraces) before the process exits.
  onTracingShutdown(() => sdk.shutdown());
}
