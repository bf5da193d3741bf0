import type { Logger } from '../logging/logger.ts';

export type CloseStep = { name: string; close: () => Promise<unknown> };

/**
 * Runs close steps in order (stop accepting and drain first, then the stores they used), each
 * failure logged and skipped so one stuck dependency cannot keep the others open.
 */
export async function closeInOrder(steps: CloseStep[], log: Logger): Promise<boolean> {
  let clean = true;
  for (const step of steps) {
    try {
      await step.close();
    } catch (error) {
      clean = false;
      log.error({ err: error, step: step.name }, 'shutdown step failed');
    }
  }
  return clean;
}

/** Calls `shutdown` once on SIGTERM or SIGINT; a second signal exits at once. */
export function onTerminationSignal(shutdown: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    void shutdown(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
