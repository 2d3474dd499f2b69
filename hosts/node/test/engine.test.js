// The host's API and its handling of bad input, against the real module.
// Every failure must be a typed error, and the engine must stay usable.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { WASI } from 'node:wasi';

import { ABI_VERSION, AbiVersionError, Engine, MAX_REQUEST_BYTES, TrapError, VaktError } from '../src/index.js';
import { fixturesDir, modulePath, supportDir, vectors } from '../testsupport/vectors.js';

const byName = new Map(vectors().map((v) => [v.name, v]));

/** The decide input of a vector, its `given` as parsed objects. */
function inputOf(name) {
  const v = byName.get(name).json;
  return {
    tenant: v.tenant,
    user: v.user,
    policy: v.policy,
    dataKey: v.data_key,
    given: v.given,
    time: v.when.time,
    entropy: v.when.entropy,
    command: v.when.command,
  };
}

/**
 * Asserts that `promise` rejects with a VaktError of `code` (and class `cls`).
 * @returns {Promise<VaktError>}
 */
async function rejectsWith(promise, code, cls = VaktError) {
  let caught;
  await assert.rejects(promise, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof cls, `expected a ${cls.name}, got ${caught?.constructor?.name}: ${caught?.message}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

describe('Engine', () => {
  /** @type {Engine} */
  let engine;
  before(async () => {
    engine = await Engine.load(modulePath());
  });
  after(() => engine?.close());

  /** The engine still answers, and no instance was replaced behind our back. */
  async function stillUsable(replaced = 0) {
    const info = await engine.info();
    assert.equal(info.abi, ABI_VERSION);
    assert.equal(engine.instancesReplaced, replaced);
  }

  test('info reports ABI 1 and the request limit', async () => {
    const info = await engine.info();
    assert.equal(info.abi, 1);
    assert.equal(info.max_request, MAX_REQUEST_BYTES);
    for (const op of ['decide', 'evolve', 'project']) assert.ok(info.ops.includes(op), op);
  });

  test('decide returns events, reply and a typed decision error', async () => {
    const v = byName.get('verify/totp-replayed').json;
    const d = await engine.decide(inputOf('verify/totp-replayed'));
    assert.deepEqual(d.events, v.then.events);
    assert.ok(d.error instanceof VaktError);
    assert.equal(d.error.code, v.then.error.code);
    assert.equal(d.error.message, v.then.error.message);
    assert.deepEqual(d.reply, v.then.reply);

    const ok = await engine.decide(inputOf('verify/totp'));
    assert.equal(ok.error, undefined);
    assert.deepEqual(ok.events.map((e) => e.type), byName.get('verify/totp').json.then.events.map((e) => e.type));
  });

  test('time as a Date and keys as bytes decide as their text forms do', async () => {
    const input = inputOf('challenge/issue-push-number-match');
    const want = Buffer.from(await engine.decideRaw(input));
    const got = await engine.decideRaw({
      ...input,
      time: new Date(input.time),
      entropy: Buffer.from(input.entropy, 'hex'),
      dataKey: Buffer.from(input.dataKey, 'hex'),
    });
    assert.deepEqual(Buffer.from(got), want);
  });

  test('evolve folds a stream into the state at its last event', async () => {
    const v = byName.get('verify/after-lock-expires').json;
    const out = await engine.evolve({ tenant: v.tenant, user: v.user, given: v.given });
    assert.equal(out.v, 2);
    assert.equal(typeof out.state, 'object');
    assert.ok(JSON.stringify(out.state).includes(v.given[0].data.authenticator_id), 'the state knows the authenticator');
  });

  test('project builds a security_info read model', async () => {
    const v = byName.get('verify/after-lock-expires').json;
    const out = await engine.project({ model: 'security_info', events: v.given });
    assert.equal(out.model, 'security_info');
    assert.equal(out.state.user, v.user);
    assert.equal(out.state.seq, v.given.at(-1).seq);
    assert.equal(out.state.authenticators[0].id, v.given[0].data.authenticator_id);
  });

  test('concurrent calls are queued and each gets its own answer', async () => {
    const names = [...byName.keys()].slice(0, 40);
    const got = await Promise.all(names.map((n) => engine.decideRaw(inputOf(n))));
    for (let i = 0; i < names.length; i++) {
      const alone = await engine.decideRaw(inputOf(names[i]));
      assert.deepEqual(Buffer.from(got[i]), Buffer.from(alone), names[i]);
    }
  });

  test('a request that is not JSON is invalid_argument', async () => {
    await rejectsWith(engine.callRaw('this is not json'), 'invalid_argument');
    await rejectsWith(engine.callRaw(new Uint8Array([0xff, 0xfe, 0x00])), 'invalid_argument');
    await rejectsWith(engine.callRaw(''), 'invalid_argument');
    await stillUsable();
  });

  test('an unknown op is invalid_argument', async () => {
    const err = await rejectsWith(engine.call({ op: 'decidee' }), 'invalid_argument');
    assert.match(err.message, /decidee/);
    await rejectsWith(engine.call({ tenant: 'uio.no' }), 'invalid_argument');
    await stillUsable();
  });

  test('a truncated request is invalid_argument', async () => {
    const req = Buffer.from(JSON.stringify({ op: 'decide', ...flatten(byName.get('verify/totp').json) }));
    assert.ok((await engine.callRaw(req)).length > 0, 'the whole request is answered');
    for (const cut of [1, req.length >> 1, req.length - 1]) {
      await rejectsWith(engine.callRaw(req.subarray(0, cut)), 'invalid_argument');
    }
    await stillUsable();
  });

  test('a request over the size limit is refused before it reaches the module', async () => {
    const big = Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x20);
    const err = await rejectsWith(engine.callRaw(big), 'invalid_argument');
    assert.match(err.message, /limit/);
    const small = await Engine.load(modulePath(), { maxRequestBytes: 1024 });
    const long = inputOf('verify/after-lock-expires');
    await rejectsWith(small.decide(long), 'invalid_argument');
    assert.equal((await small.info()).abi, 1);
    small.close();
    await stillUsable();
  });

  test('input that is not an object is refused', async () => {
    for (const bad of [42, null, undefined, [], true]) {
      await rejectsWith(engine.call(/** @type {any} */ (bad)), 'invalid_argument');
    }
    await rejectsWith(engine.decide(/** @type {any} */ ('verify_code')), 'invalid_argument');
    await rejectsWith(engine.decide({ ...inputOf('verify/totp'), time: 1234 }), 'invalid_argument');
    await rejectsWith(engine.decide({ ...inputOf('verify/totp'), given: 'x' }), 'invalid_argument');
    await rejectsWith(engine.project(/** @type {any} */ ({ events: [] })), 'invalid_argument');
    await stillUsable();
  });

  test('a broken hash chain is a call error', async () => {
    const input = inputOf('verify/totp');
    const given = structuredClone(input.given);
    given[1].prev = '00'.repeat(32);
    await rejectsWith(engine.decide({ ...input, given }), 'invalid_argument');
    await stillUsable();
  });

  test('a head the instance does not hold is state_unknown', async () => {
    const input = inputOf('verify/totp');
    await rejectsWith(engine.decide({ ...input, given: [], after: { seq: 99, hash: 'ab'.repeat(32) } }), 'state_unknown');
    await stillUsable();
  });

  test('a closed engine refuses calls', async () => {
    const e = await Engine.load(modulePath());
    e.close();
    await rejectsWith(e.info(), 'internal');
  });
});

describe('loading', () => {
  test('a module of another ABI version is refused', async () => {
    const err = await rejectsWith(Engine.load(join(fixturesDir, 'abi-v2.wasm')), 'internal', AbiVersionError);
    assert.equal(err.version, 2);
    assert.match(err.message, /ABI version 2/);
  });

  test('bytes that are not a module are refused', async () => {
    await rejectsWith(Engine.load(new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9])), 'invalid_argument');
    await rejectsWith(Engine.load(/** @type {any} */ (42)), 'invalid_argument');
  });

  test('the module can be given as bytes or compiled', async () => {
    const bytes = readFileSync(modulePath());
    const a = await Engine.load(bytes);
    const b = await Engine.load(await WebAssembly.compile(bytes));
    assert.equal((await a.info()).abi, 1);
    assert.equal((await b.info()).abi, 1);
  });
});

describe('traps', () => {
  test('after a trap the instance is replaced and the engine answers', async () => {
    // The module runs out of memory under a V8 cap (80 pages, 5 MiB): a real
    // trap of the real module. V8 caps memory per process, hence the child.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--no-warnings', '--wasm-max-mem-pages=80', join(supportDir, 'trap-child.js'), modulePath()],
      { maxBuffer: 16 << 20 },
    ).catch((err) => err);
    const got = JSON.parse(stdout.trim().split('\n').at(-1));
    assert.equal(got.before, 1);
    assert.ok(got.trapped, 'the big request did not trap');
    assert.equal(got.trapped.isTrapError, true, got.trapped.message);
    assert.equal(got.trapped.code, 'internal');
    assert.equal(got.after, 1);
    assert.equal(got.replaced, 1);
  });

  test('an instance that outgrows maxMemoryBytes is replaced after the call', async () => {
    const e = await Engine.load(modulePath(), { maxMemoryBytes: 1 });
    assert.equal((await e.info()).abi, 1);
    assert.equal((await e.info()).abi, 1);
    assert.equal(e.instancesReplaced, 1, 'replaced before the second call');
  });
});

describe('the module itself (ABI section 2)', () => {
  // The host never makes these calls; they check the guards the ABI promises
  // to any host: a length past the buffer or a foreign pointer is an answer,
  // not a trap.
  test('a truncated or foreign buffer is answered invalid_argument', async () => {
    const module = await WebAssembly.compile(readFileSync(modulePath()));
    const wasi = new WASI({ version: 'preview1', returnOnExit: true });
    const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
    wasi.initialize(instance);
    const x = /** @type {any} */ (instance.exports);
    const answer = (packed) => {
      const p = BigInt.asUintN(64, packed);
      const ptr = Number(p >> 32n);
      const len = Number(p & 0xffffffffn);
      const text = Buffer.from(new Uint8Array(x.memory.buffer, ptr, len)).toString();
      x.vakt_free(ptr);
      return JSON.parse(text);
    };
    const req = Buffer.from('{"op":"info"}');
    const ptr = x.vakt_alloc(req.length);
    new Uint8Array(x.memory.buffer, ptr, req.length).set(req);
    assert.equal(answer(x.vakt_call(ptr, req.length)).ok.abi, 1);
    assert.equal(answer(x.vakt_call(ptr, req.length + 1)).error.code, 'invalid_argument');
    assert.equal(answer(x.vakt_call(ptr + 1, 4)).error.code, 'invalid_argument');
    assert.equal(x.vakt_alloc(MAX_REQUEST_BYTES + 1), 0);
    x.vakt_free(ptr);
    assert.equal(answer(x.vakt_call(ptr, req.length)).error.code, 'invalid_argument', 'a freed buffer');
  });
});

/** A vector's fields as a decide request (when flattened). */
function flatten(v) {
  const out = { tenant: v.tenant, user: v.user, given: v.given, ...v.when };
  if (v.policy) out.policy = v.policy;
  if (v.data_key) out.data_key = v.data_key;
  return out;
}

test('the README example runs', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--no-warnings', join(supportDir, '..', 'examples', 'verify.js')], {
    env: { ...process.env },
  });
  assert.match(stdout, /^event: challenge\.succeeded$/m);
  assert.match(stdout, /^typed error: invalid_argument$/m);
});

describe('threads', () => {
  test('calls run in worker threads and answer as in this thread', async () => {
    const local = await Engine.load(modulePath());
    const engine = await Engine.load(modulePath(), { threads: 2 });
    try {
      const names = [...byName.keys()].slice(0, 30);
      const got = await Promise.all(names.map((n) => engine.decideRaw(inputOf(n))));
      for (let i = 0; i < names.length; i++) {
        assert.deepEqual(Buffer.from(got[i]), Buffer.from(await local.decideRaw(inputOf(names[i]))), names[i]);
      }
      const err = await rejectsWith(engine.call({ op: 'decidee' }), 'invalid_argument');
      assert.match(err.message, /decidee/);
      await rejectsWith(engine.callRaw(Buffer.alloc(MAX_REQUEST_BYTES + 1)), 'invalid_argument');
      assert.equal((await engine.info()).abi, 1);
      assert.equal(engine.instancesReplaced, 0);
    } finally {
      engine.close();
      local.close();
    }
    await rejectsWith(engine.info(), 'internal');
  });

  test('a module of another ABI version is refused by every thread', async () => {
    const err = await rejectsWith(Engine.load(join(fixturesDir, 'abi-v2.wasm'), { threads: 2 }), 'internal', AbiVersionError);
    assert.equal(err.version, 2);
  });

  test('a bad thread count is invalid_argument', async () => {
    await rejectsWith(Engine.load(modulePath(), { threads: -1 }), 'invalid_argument');
    await rejectsWith(Engine.load(modulePath(), { threads: 1.5 }), 'invalid_argument');
  });
});
