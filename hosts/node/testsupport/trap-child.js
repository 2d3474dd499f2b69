// Run by test/engine.test.js in a child process started with
// --wasm-max-mem-pages, so that the real module runs out of memory inside a
// call and traps (V8 can cap memory only for the whole process). Prints one
// JSON line with what happened.

import { Engine, TrapError } from '../src/index.js';

const engine = await Engine.load(process.argv[2]);
const before = await engine.info();
// A project request with many (invalid) events: decoding it needs more
// memory than the cap allows.
const big = `{"op":"project","model":"audit_trail","events":[${Array(20000).fill('{"id":"x"}').join(',')}]}`;
let trapped = null;
try {
  await engine.callRaw(big);
} catch (err) {
  trapped = { name: err.name, code: err.code, isTrapError: err instanceof TrapError, message: err.message };
}
const after = await engine.info();
console.log(JSON.stringify({ before: before.abi, trapped, after: after.abi, replaced: engine.instancesReplaced }));
