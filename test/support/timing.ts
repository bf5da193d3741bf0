/** Timing comparisons for the user-enumeration tests. */

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * How far apart two kinds of request are, compared pair by pair: `known[i]` and `unknown[i]` ran
 * back to back, so a burst of load from elsewhere on the machine (other test files, a browser)
 * lands on both sides of a pair rather than on one side's median. `share` is the median gap
 * within a pair over the typical time of either; `text` says both for an assertion message.
 */
export function pairedGap(known: number[], unknown: number[]): { share: number; text: string } {
  const gap = median(known.map((ms, i) => unknown[i]! - ms));
  const typical = median([...known, ...unknown]);
  const text = `known ${median(known).toFixed(2)} ms vs unknown ${median(unknown).toFixed(2)} ms, median gap in a pair ${gap.toFixed(2)} ms`;
  return { share: Math.abs(gap) / typical, text };
}
