import { Redis } from 'ioredis';
for (const auto of [false, true, false, true]) {
  const r = new Redis('redis://127.0.0.1:6379/5', { enableAutoPipelining: auto });
  await r.set('k', 'v');
  const N = 40000, C = 32;
  for (let i = 0; i < 2000; i++) await r.get('k');
  const cpu0 = process.cpuUsage(); const t0 = performance.now();
  let left = N;
  await Promise.all(Array.from({ length: C }, async () => { while (left-- > 0) { await r.get('k'); await r.get('x'); } }));
  const c = process.cpuUsage(cpu0); const ms = performance.now() - t0;
  console.log(`auto=${auto} ${((c.user + c.system) / N).toFixed(1)} µs CPU per request (2 GETs), ${Math.round(N / (ms / 1000))}/s`);
  r.disconnect();
}
