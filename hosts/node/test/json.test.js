import assert from 'node:assert/strict';
import { test } from 'node:test';

import { arrayElements, stripWhitespace, topLevelMembers } from '../src/json.js';

const text = (b) => Buffer.from(b).toString('utf8');

test('stripWhitespace removes whitespace outside strings only', () => {
  const got = stripWhitespace('{\n  "a b": "x \\" y\\\\",\t"n" : [ 1 , 2 ],\r\n "e":"\\u003c " }');
  assert.equal(text(got), '{"a b":"x \\" y\\\\","n":[1,2],"e":"\\u003c "}');
});

test('stripWhitespace keeps multi-byte UTF-8 intact', () => {
  assert.equal(text(stripWhitespace('{ "å": "Ø ü" }')), '{"å":"Ø ü"}');
});

test('topLevelMembers finds raw values without re-encoding', () => {
  const src = Buffer.from('{"ok" : {"events":[],"x":"}\\""} , "n": -1.5e3,"t":true}');
  const m = topLevelMembers(src);
  assert.deepEqual([...m.keys()], ['ok', 'n', 't']);
  const [a, b] = m.get('ok');
  assert.equal(text(src.subarray(a, b)), '{"events":[],"x":"}\\""}');
  const [c, d] = m.get('n');
  assert.equal(text(src.subarray(c, d)), '-1.5e3');
});

test('topLevelMembers refuses what is not a complete object', () => {
  for (const bad of ['[1]', '"ok"', '{"ok":', '{"ok" 1}', '{"ok":{"a":1}', '']) {
    assert.equal(topLevelMembers(Buffer.from(bad)), null, bad);
  }
});

test('arrayElements splits an array', () => {
  const src = Buffer.from('[ {"a":[1,2]}, "x,y" ,3]');
  assert.deepEqual(arrayElements(src).map(([a, b]) => text(src.subarray(a, b))), ['{"a":[1,2]}', '"x,y"', '3']);
  assert.deepEqual(arrayElements(Buffer.from('[]')), []);
  assert.equal(arrayElements(Buffer.from('{}')), null);
});
