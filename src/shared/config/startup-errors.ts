import { ConfigError } from './config.ts';

/**
 * Prints why a process could not start, one line per problem and never a stack trace, then exits.
 * Start-up failures are read by people at a terminal or in a container log.
 */
export function exitOnStartupError(processName: string, error: unknown): never {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) process.stderr.write(`${processName}: configuration error: ${problem}\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${processName}: could not start: ${message.split('\n')[0]}\n`);
  }
  process.exit(1);
}
