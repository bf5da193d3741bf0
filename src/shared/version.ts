import { readFileSync } from 'node:fs';

/** Latchkey's version, from package.json (read once): the build-info metric and the CLI report it. */
export const LATCHKEY_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
