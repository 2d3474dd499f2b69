// Conformance: every decision vector through the real module in node:wasi.
// The answer's raw `ok` bytes must equal the vector's `then` with
// insignificant whitespace removed, byte for byte (never parsed and
// re-serialised).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { Engine } from '../src/index.js';
import { arrayElements, stripWhitespace, topLevelMembers } from '../src/json.js';
import { exceptions, modulePath, vectors } from '../testsupport/vectors.js';

const all = vectors();
const skipped = exceptions();

/** The vector's `then`, and its `given` envelopes as stored (raw, whitespace removed). */
function expected(v) {
  const m = topLevelMembers(v.bytes);
  const then = m.get('then');
  const given = m.get('given');
  return {
    then: Buffer.from(stripWhitespace(v.bytes.subarray(then[0], then[1]))),
    stored: arrayElements(v.bytes, given[0], given[1]).map(([a, b]) => Buffer.from(stripWhitespace(v.bytes.subarray(a, b)))),
  };
}

function input(v, given) {
  return {
    tenant: v.json.tenant,
    user: v.json.user,
    policy: v.json.policy,
    dataKey: v.json.data_key,
    given,
    time: v.json.when.time,
    entropy: v.json.when.entropy,
    command: v.json.when.command,
  };
}

function assertSameBytes(got, want, name) {
  const g = Buffer.from(got);
  if (!g.equals(want)) {
    // Strings make the difference readable; the bytes decide.
    assert.equal(g.toString('utf8'), want.toString('utf8'), `${name}: the answer differs from the vector`);
    assert.fail(`${name}: the answer differs from the vector in bytes that decode alike`);
  }
}

test('the vectors are all there and exceptions.txt names only real cases', () => {
  assert.ok(all.length >= 150, `only ${all.length} vectors found`);
  const names = new Set(all.map((v) => v.name));
  for (const name of skipped.keys()) assert.ok(names.has(name), `exceptions.txt names ${name}, which is no vector`);
});

describe('every vector through the module', () => {
  /** @type {Engine} */
  let engine;
  before(async () => {
    engine = await Engine.load(modulePath());
  });
  after(() => engine?.close());

  for (const v of all) {
    const why = skipped.get(v.name);
    describe(v.name, { skip: why && `exceptions.txt: ${why}` }, () => {
      test('given as stored bytes', async () => {
        const { then, stored } = expected(v);
        assertSameBytes(await engine.decideRaw(input(v, stored)), then, v.name);
      });
      test('given as parsed objects', async () => {
        const { then } = expected(v);
        assertSameBytes(await engine.decideRaw(input(v, v.json.given)), then, v.name);
      });
      test('the instance cache answers the same from the head', async () => {
        const { then, stored } = expected(v);
        if (stored.length === 0) return;
        const kept = await engine.decideRaw({ ...input(v, stored), keep: true });
        assertSameBytes(kept, then, `${v.name} (keep)`);
        let hash = Buffer.alloc(32);
        for (const raw of stored) hash = createHash('sha256').update(hash).update(raw).digest();
        const head = { seq: v.json.given.at(-1).seq, hash: hash.toString('hex') };
        assertSameBytes(await engine.decideRaw({ ...input(v, []), after: head }), then, `${v.name} (after)`);
      });
    });
  }
});
