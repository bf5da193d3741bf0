import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The README's source tree: the fenced block that starts with `src/`. */
function treeBlock(): string[] {
  const block = /```\n(src\/\n[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'the README has a source tree starting with src/');
  return block.split('\n').filter((line) => line.trim() !== '');
}

/**
 * Every path the tree names, resolved by indentation (two spaces a level): the directories in a
 * line's first column, the `name/` directories its description lists under it, and its entry file.
 */
export function pathsInTree(lines: string[]): string[] {
  const parents: string[] = [];
  const paths: string[] = [];
  for (const line of lines) {
    const depth = (line.length - line.trimStart().length) / 2;
    const [names = '', description = ''] = line.trim().split(/\s{2,}/, 2);
    const dirs = names.split(' ').filter(Boolean);
    const base = parents.slice(0, depth).join('/');
    const at = (name: string) => (base ? `${base}/${name}` : name).replace(/\/$/, '');
    for (const dir of dirs) paths.push(at(dir));
    parents.length = depth;
    parents[depth] = dirs[0]!.replace(/\/$/, '');
    const own = at(dirs[0]!);
    for (const [, sub] of description.matchAll(/(?:^|[\s,(])([a-z][\w.-]*\/)(?=[\s,)]|$)/g))
      paths.push(`${own}/${sub}`);
    const entry = /entry: ([\w.-]+\.ts)/.exec(description)?.[1];
    if (entry) paths.push(`${own}/${entry}`);
  }
  return paths.map((path) => path.replace(/\/$/, ''));
}

describe('the README', () => {
  it('names only directories and files that exist in its source tree', () => {
    const missing = pathsInTree(treeBlock()).filter((path) => !existsSync(join(root, path)));
    assert.deepEqual(missing, []);
  });

  it('names only source files, documents and folders that exist elsewhere in its text', () => {
    const named = [
      ...[...readme.matchAll(/`((?:src|docs|views|prisma|test)\/[\w./-]*)`/g)].map((match) => match[1]!),
      ...[...readme.matchAll(/\]\(((?:docs|src)\/[\w./-]+)\)/g)].map((match) => match[1]!),
    ];
    assert.ok(named.length > 10, 'the README names paths');
    const missing = named.filter((path) => !existsSync(join(root, path)));
    assert.deepEqual(missing, []);
  });

  it('reads a tree line’s description for the directories under it', () => {
    assert.deepEqual(pathsInTree(['src/', '  clients/   spa/ (the app), worker/, cli/ (taskctl)', '    deep/  x']), [
      'src',
      'src/clients',
      'src/clients/spa',
      'src/clients/worker',
      'src/clients/cli',
      'src/clients/deep',
    ]);
  });
});
