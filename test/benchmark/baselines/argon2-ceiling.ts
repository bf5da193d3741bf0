/**
 * The ceiling for password sign-ins: raw argon2id verifications per second with the issuer's
 * parameters, as many in flight as libuv's thread pool runs (what the issuer's process can do).
 * Prints one JSON line: { verifications, seconds, perSecond, cpuSeconds }.
 */
import { cpuUsage } from 'node:process';
import argon2 from 'argon2';

const seconds = Number(process.env.SECONDS ?? '5');
const parallel = Number(process.env.UV_THREADPOOL_SIZE ?? '4');
const options = {
  type: argon2.argon2id as 2,
  memoryCost: Number(process.env.MEMORY ?? '19456'),
  timeCost: Number(process.env.TIME ?? '2'),
  parallelism: Number(process.env.PARALLELISM ?? '1'),
};
const hash = await argon2.hash('correct horse battery staple', options);
await argon2.verify(hash, 'correct horse battery staple');

const started = performance.now();
const cpuBefore = cpuUsage();
let verifications = 0;
await Promise.all(
  Array.from({ length: parallel }, async () => {
    while (performance.now() - started < seconds * 1000) {
      await argon2.verify(hash, 'wrong password attempt');
      verifications += 1;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
const cpu = cpuUsage(cpuBefore);
process.stdout.write(
  `${JSON.stringify({ verifications, seconds: elapsed, perSecond: verifications / elapsed, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`,
);
