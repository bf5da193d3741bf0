/**
 * Preloaded into a server process by the benchmark (node --import): samples the event-loop delay
 * and writes its percentiles to the file in LOOP_DELAY_FILE on SIGUSR2, then starts afresh.
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const histogram = monitorEventLoopDelay({ resolution: 10 });
histogram.enable();
process.on('SIGUSR2', () => {
  const ms = (ns: number) => Math.round((ns / 1e6) * 100) / 100;
  writeFileSync(
    process.env.LOOP_DELAY_FILE ?? 'loop-delay.json',
    JSON.stringify({ p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) }),
  );
  histogram.reset();
});
