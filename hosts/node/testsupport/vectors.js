// Test support: where the module and the shared vectors are, and how to read them.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..');
export const vectorsDir = join(repoRoot, 'testdata', 'vectors');
export const fixturesDir = join(here, '..', 'test', 'fixtures');
export const supportDir = here;

/**
 * The engine module under test: $VAKT_WASM, or the repository's build output.
 * A missing module fails the tests (build it with `just wasm`): a host that
 * was never run against the module is not tested.
 */
export function modulePath() {
  const p = process.env.VAKT_WASM || join(repoRoot, 'wasm', 'build', 'vakt.wasm');
  if (!existsSync(p)) {
    throw new Error(`no engine module at ${p}: build it first (just wasm), or set VAKT_WASM`);
  }
  return p;
}

/**
 * The cases skipped on purpose: exceptions.txt, one "name issue" per line.
 * @returns {Map<string, string>}
 */
export function exceptions() {
  const p = join(vectorsDir, 'exceptions.txt');
  const out = new Map();
  if (!existsSync(p)) return out;
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const [name, ...why] = t.split(/\s+/);
    if (why.length === 0) throw new Error(`exceptions.txt: ${name} names no open issue`);
    out.set(name, why.join(' '));
  }
  return out;
}

/**
 * Every vector file, sorted by name: its raw bytes and its parsed form.
 * @returns {{name: string, bytes: Buffer, json: any}[]}
 */
export function vectors() {
  const out = [];
  const walk = (dir) => {
    for (const ent of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.name.endsWith('.json')) {
        const bytes = readFileSync(p);
        const name = relative(vectorsDir, p).split(sep).join('/').replace(/\.json$/, '');
        out.push({ name, bytes, json: JSON.parse(bytes.toString('utf8')) });
      }
    }
  };
  walk(vectorsDir);
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}
