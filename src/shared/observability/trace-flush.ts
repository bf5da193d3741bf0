/**
 * The tracing preload (tracing.ts) leaves its shutdown here, so a stopping service sends the spans
 * still batched without importing the SDK (or starting it late) itself.
 */
export const TRACING_SHUTDOWN = Symbol.for('latchkey.tracing.shutdown');

type WithTracing = { [TRACING_SHUTDOWN]?: () => Promise<void> };

export function onTracingShutdown(shutdown: () => Promise<void>): void {
  (globalThis as WithTracing)[TRACING_SHUTDOWN] = shutdown;
}

/** Sends the spans still batched and stops tracing; nothing when tracing is off. */
export async function flushTraces(): Promise<void> {
  await (globalThis as WithTracing)[TRACING_SHUTDOWN]?.();
}
