// Per-op latency of decisions through the Node host (the public async API),
// on the inputs of three decision vectors, plus the raw crypto floors inside
// the same module. Prints a Markdown table: the median of RUNS runs, each the
// mean over a timed loop.
//
//   node bench/bench.js [path/to/vakt.wasm]      (RUNS=5 MIN_MS=1000 by default)

import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { Engine } from '../src/index.js';
import { arrayElements, stripWhitespace, topLevelMembers } from '../src/json.js';
import { modulePath, vectorsDir } from '../testsupport/vectors.js';
import { createHash } from 'node:crypto';

const RUNS = Number(process.env.RUNS ?? 5);
const MIN_MS = Number(process.env.MIN_MS ?? 1000);
const path = process.argv[2] ?? modulePath();

/** The same inputs as the Go benchmarks' ops, taken from the vectors. */
const CASES = [
  ['VerifyTOTP', 'verify/totp'],
  ['IssueChallenge', 'challenge/issue-totp'],
  ['RespondPush', 'push/approve'],
];

function load(name) {
  const bytes = readFileSync(join(vectorsDir, `${name}.json`));
  const json = JSON.parse(bytes.toString());
  const m = topLevelMembers(bytes);
  const [ga, gb] = m.get('given');
  const stored = arrayElements(bytes, ga, gb).map(([a, b]) => Buffer.from(stripWhitespace(bytes.subarray(a, b))).toString());
  let hash = Buffer.alloc(32);
  for (const raw of stored) hash = createHash('sha256').update(hash).update(raw).digest();
  const input = {
    tenant: json.tenant,
    user: json.user,
    policy: json.policy,
    dataKey: json.data_key,
    given: stored,
    time: json.when.time,
    entropy: json.when.entropy,
    command: json.when.command,
  };
  return { input, head: { seq: json.given.at(-1).seq, hash: hash.toString('hex') }, events: json.given.length };
}

/** Median over RUNS of the mean ns/op of `fn` in a loop of at least MIN_MS. */
async function measure(fn, perCall = 1) {
  for (let i = 0; i < 200; i++) await fn(); // warm-up (V8 tiers up)
  const runs = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const start = performance.now();
    let now = start;
    while (now - start < MIN_MS) {
      for (let i = 0; i < 50; i++) await fn();
      n += 50;
      now = performance.now();
    }
    runs.push(((now - start) * 1e6) / (n * perCall));
  }
  runs.sort((a, b) => a - b);
  return { median: runs[runs.length >> 1], min: runs[0], max: runs.at(-1) };
}

const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(1)} µs` : `${ns.toFixed(0)} ns`);

const wasm = readFileSync(path);
// V8 compiles lazily (Liftoff first, optimised tiers on use): this is the
// start-up cost, not all of the compilation.
let t = performance.now();
const compiled = await WebAssembly.compile(wasm);
const compileMs = performance.now() - t;
t = performance.now();
const engine = await Engine.load(compiled);
const instantiateMs = performance.now() - t;

const rows = [];
for (const [op, name] of CASES) {
  const { input, head, events } = load(name);
  // Every call sends the whole stream (folded from scratch in the module).
  const full = await measure(() => engine.decideRaw(input));
  rows.push([`Decide/${op}/node-full`, `${name}, its ${events} events sent each call`, full]);
  // The state cache: the stream is kept in the instance once, each call
  // sends only the command (ABI "after"), as the Go server does.
  await engine.decideRaw({ ...input, keep: true });
  const cachedInput = { ...input, given: [], after: head };
  const cached = await measure(() => engine.decideRaw(cachedInput));
  rows.push([`Decide/${op}/node-cached`, `${name}, state kept in the instance`, cached]);
}
{
  const name = 'push/approve-while-codes-locked';
  const { input, events } = load(name);
  rows.push(['Evolve/node', `${name}: fold its ${events} events`, await measure(() => engine.callRaw(
    `{"op":"evolve","tenant":${JSON.stringify(input.tenant)},"user":${JSON.stringify(input.user)},"given":[${input.given.join(',')}]}`,
  ))]);
  rows.push(['Project/node', `${name}: security_info of its ${events} events`, await measure(() => engine.callRaw(
    `{"op":"project","model":"security_info","events":[${input.given.join(',')}]}`,
  ))]);
}
{
  // The same, with the module in one worker thread: the price of the message
  // round trip (the event loop stays free while the module runs).
  const threaded = await Engine.load(compiled, { threads: 1 });
  const { input, head } = load('challenge/issue-totp');
  await threaded.decideRaw({ ...input, keep: true });
  const cachedInput = { ...input, given: [], after: head };
  rows.push(['Decide/IssueChallenge/node-cached-thread', 'as node-cached, the module in a worker thread', await measure(() => threaded.decideRaw(cachedInput))]);
  threaded.close();
}
const HMAC_N = 100;
const ED_N = 4;
rows.push(['Floor/HMAC/node', `bench_hmac n=${HMAC_N}, per unit (3 HMAC-SHA1)`, await measure(() => engine.callRaw(`{"op":"bench_hmac","n":${HMAC_N}}`), HMAC_N)]);
rows.push(['Floor/Ed25519/node', `bench_ed25519 n=${ED_N}, per verification`, await measure(() => engine.callRaw(`{"op":"bench_ed25519","n":${ED_N}}`), ED_N)]);
rows.push(['Info/node', 'the smallest request: boundary, JSON and the async API', await measure(() => engine.callRaw('{"op":"info"}'))]);

console.log(`Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`module ${(wasm.length / 1e6).toFixed(2)} MB; WebAssembly.compile ${compileMs.toFixed(0)} ms; instantiate + _initialize ${instantiateMs.toFixed(1)} ms`);
console.log(`median of ${RUNS} runs, each the mean over >= ${MIN_MS} ms\n`);
console.log('| benchmark | input | median per op | runs min–max |');
console.log('|---|---|---|---|');
for (const [b, what, r] of rows) console.log(`| ${b} | ${what} | ${fmt(r.median)} | ${fmt(r.min)}–${fmt(r.max)} |`);
engine.close();
