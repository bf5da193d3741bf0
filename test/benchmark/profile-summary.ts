/**
 * Where a V8 CPU profile's time went: the top functions by self time, and the same summed by
 * package. `node test/benchmark/profile-summary.ts bench-results/profiles/CPU.*.cpuprofile`
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    const frame = nodes.get(id)!.callFrame;
    // Idle time is the server waiting for work: shares are of the time it was busy.
    if (frame.functionName === '(idle)') return;
    total += delta;
    const where = frame.url.replace(/.*node_modules\//, '').replace(/.*?\/src\//, 'src/');
    const fn = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + delta);
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1] ??
      (frame.url.includes('/src/') ? 'latchkey (src)' : frame.url || '(native, GC, idle)');
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + delta);
  });
  const top = (map: Map<string, number>, count: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, time]) => `${((time / total) * 100).toFixed(1).padStart(5)}%  ${name}`)
      .join('\n');
  process.stdout.write(
    `${file}: ${Math.round(total / 1000)} ms busy\n${top(byFunction, 25)}\n--- by package\n${top(byPackage, 12)}\n\n`,
  );
}
