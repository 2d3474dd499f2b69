// @vakt/engine: Vakt's decision engine for Node, running the same WebAssembly
// module as every other host (ABI v1, see wasm/ABI.md in the repository).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { WASI } from 'node:wasi';
import { Worker } from 'node:worker_threads';

import { topLevelMembers } from './json.js';

/** The ABI version this host speaks; a module answering another is refused. */
export const ABI_VERSION = 1;

/** The largest request the module accepts (wasm/ABI.md, section 5). */
export const MAX_REQUEST_BYTES = 4 << 20;

/** The smallest request buffer an instance keeps and reuses between calls. */
const MIN_REQUEST_BUFFER = 64 << 10;

/**
 * The engine's typed error. `code` is one of Vakt's stable error codes
 * (`invalid_argument`, `not_found`, ..., `internal`), the same in every host.
 */
export class VaktError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{cause?: unknown}} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = 'VaktError';
    /** @type {string} */
    this.code = code;
  }

  toJSON() {
    return { code: this.code, message: this.message };
  }
}

/**
 * The module is not one this host can run: it speaks another ABI version (or
 * none). Code `internal`; `version` is what the module answered, if anything.
 */
export class AbiVersionError extends VaktError {
  /**
   * @param {number | undefined} version
   * @param {string} message
   */
  constructor(version, message) {
    super('internal', message);
    this.name = 'AbiVersionError';
    /** @type {number | undefined} */
    this.version = version;
  }
}

/**
 * An instance trapped (a bug or resource exhaustion inside the module). Code
 * `internal`. The instance was discarded; the engine makes a new one for the
 * next call, so the call may be retried.
 */
export class TrapError extends VaktError {
  /**
   * @param {string} message
   * @param {{cause?: unknown}} [options]
   */
  constructor(message, options) {
    super('internal', message, options);
    this.name = 'TrapError';
  }
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * One instance of the module with its own WASI environment and memory. A Go
 * guest is single-threaded: an instance serves one call at a time.
 */
class Instance {
  /**
   * @param {WebAssembly.Module} module
   * @param {{stderr?: number}} options
   */
  constructor(module, options) {
    const wasi = new WASI({
      version: 'preview1',
      args: ['vakt'],
      env: {},
      stdin: 0,
      stdout: options.stderr ?? 2, // the guest has nothing to say on stdout
      stderr: options.stderr ?? 2,
      returnOnExit: true,
    });
    const instance = new WebAssembly.Instance(module, /** @type {WebAssembly.Imports} */ (wasi.getImportObject()));
    const x = /** @type {Record<string, any>} */ (instance.exports);
    if (!(x.memory instanceof WebAssembly.Memory) || typeof x.vakt_abi_version !== 'function') {
      throw new AbiVersionError(undefined, 'the module exports no memory or no vakt_abi_version: it is not a Vakt engine module');
    }
    // Runs the Go runtime's initialisation (_initialize); no export works before it.
    wasi.initialize(instance);
    const version = x.vakt_abi_version();
    if (version !== ABI_VERSION) {
      throw new AbiVersionError(
        version,
        `the module speaks ABI version ${version}, this host speaks ${ABI_VERSION}: use a module and host of the same release`,
      );
    }
    for (const name of ['vakt_alloc', 'vakt_free', 'vakt_call']) {
      if (typeof x[name] !== 'function') {
        throw new AbiVersionError(version, `the module does not export ${name}, which ABI version ${ABI_VERSION} requires`);
      }
    }
    /** @type {WebAssembly.Memory} */
    this.memory = x.memory;
    /** @type {(size: number) => number} */
    this.alloc = x.vakt_alloc;
    /** @type {(ptr: number) => void} */
    this.free = x.vakt_free;
    /** @type {(ptr: number, len: number) => bigint} */
    this.call = x.vakt_call;
    // One request buffer, kept and reused (the ABI allows it); grown on demand.
    this.reqPtr = 0;
    this.reqCap = 0;
  }

  /**
   * Sends request bytes and returns a copy of the answer bytes. If this
   * throws anything but a VaktError, the instance must be discarded.
   * @param {Uint8Array} req
   * @returns {Uint8Array}
   */
  roundTrip(req) {
    if (req.length > this.reqCap) {
      if (this.reqPtr !== 0) this.free(this.reqPtr);
      this.reqPtr = 0;
      this.reqCap = 0;
      const cap = Math.min(Math.max(req.length, MIN_REQUEST_BUFFER), MAX_REQUEST_BYTES);
      const ptr = this.alloc(cap) >>> 0; // an i32 arrives signed
      if (ptr === 0) throw new VaktError('internal', `the engine could not allocate ${cap} bytes`);
      this.reqPtr = ptr;
      this.reqCap = cap;
    }
    // A fresh view each time: memory.grow detaches the old ArrayBuffer.
    new Uint8Array(this.memory.buffer, this.reqPtr, req.length).set(req);
    // If this traps, nothing more is called on this instance (not even free).
    const packed = BigInt.asUintN(64, this.call(this.reqPtr, req.length));
    const resPtr = Number(packed >> 32n);
    const resLen = Number(packed & 0xffffffffn);
    const size = this.memory.buffer.byteLength;
    if (resPtr === 0 || resPtr + resLen > size) {
      throw new TrapError(`the engine answered out of bounds (${resPtr}+${resLen}, memory ${size})`);
    }
    const answer = new Uint8Array(this.memory.buffer, resPtr, resLen).slice();
    this.free(resPtr);
    return answer;
  }
}

/**
 * @typedef {object} LoadOptions
 * @property {number} [maxRequestBytes] refuse requests larger than this
 *   (default and maximum MAX_REQUEST_BYTES)
 * @property {number} [stderr] file descriptor for the guest's diagnostics
 *   (a Go panic's trace); default 2
 * @property {number} [maxMemoryBytes] replace the instance after a call that
 *   left its linear memory larger than this (memory never shrinks; default:
 *   no bound). Node cannot cap a module's memory during a call.
 * @property {number} [threads] run the module in this many worker threads,
 *   one instance each, instead of on the calling thread (default 0): calls
 *   then run in parallel and never block the event loop, at the cost of a
 *   message round trip (tens of µs) per call.
 */

/**
 * @typedef {string | URL | Uint8Array | ArrayBuffer | WebAssembly.Module} ModuleSource
 */

/**
 * The engine: one compiled module and one live instance. Calls are queued and
 * run one at a time; each runs synchronously on the calling thread once its
 * turn comes (WebAssembly in Node does not run concurrently within a thread).
 * For parallel decisions, load one Engine per worker thread.
 *
 * An instance that traps is discarded and the next call gets a fresh one:
 * the failed call rejects with a VaktError `internal`, the engine stays usable.
 */
export class Engine {
  /** @type {WebAssembly.Module} */
  #module;
  /** @type {Instance | null} */
  #instance = null;
  /** @type {Promise<unknown>} */
  #queue = Promise.resolve();
  /** @type {Required<LoadOptions>} */
  #options;
  /** @type {ThreadPool | null} */
  #pool;
  #closed = false;
  #replaced = 0;

  /**
   * @param {WebAssembly.Module} module
   * @param {Instance | null} instance
   * @param {Required<LoadOptions>} options
   * @param {ThreadPool | null} pool
   */
  constructor(module, instance, options, pool) {
    this.#module = module;
    this.#instance = instance;
    this.#options = options;
    this.#pool = pool;
  }

  /**
   * Compiles the module, instantiates it and checks its ABI version.
   * @param {ModuleSource} source a path, file URL, the module's bytes or a compiled module
   * @param {LoadOptions} [options]
   * @returns {Promise<Engine>}
   */
  static async load(source, options = {}) {
    const max = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
    if (!Number.isInteger(max) || max <= 0 || max > MAX_REQUEST_BYTES) {
      throw new VaktError('invalid_argument', `maxRequestBytes must be an integer from 1 to ${MAX_REQUEST_BYTES}`);
    }
    const threads = options.threads ?? 0;
    if (!Number.isInteger(threads) || threads < 0) {
      throw new VaktError('invalid_argument', 'threads must be a whole number (0: run on the calling thread)');
    }
    /** @type {Required<LoadOptions>} */
    const opts = { maxRequestBytes: max, stderr: options.stderr ?? 2, maxMemoryBytes: options.maxMemoryBytes ?? Infinity, threads };
    let module;
    if (source instanceof WebAssembly.Module) {
      module = source;
    } else {
      let bytes;
      if (typeof source === 'string' || source instanceof URL) {
        bytes = await readFile(source instanceof URL ? fileURLToPath(source) : source);
      } else if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
        bytes = source;
      } else {
        throw new VaktError('invalid_argument', 'the module source must be a path, a URL, bytes or a WebAssembly.Module');
      }
      try {
        module = await WebAssembly.compile(/** @type {BufferSource} */ (bytes));
      } catch (err) {
        throw new VaktError('invalid_argument', `the module does not compile: ${/** @type {Error} */ (err).message}`, { cause: err });
      }
    }
    if (threads > 0) {
      return new Engine(module, null, opts, await ThreadPool.start(module, { ...opts, threads: 0 }, threads));
    }
    return new Engine(module, newInstance(module, opts), opts, null);
  }

  /** How many times an instance was replaced, after a trap or for growing
   * past maxMemoryBytes (for monitoring). */
  get instancesReplaced() {
    return this.#pool ? this.#pool.replaced : this.#replaced;
  }

  /**
   * Sends one request and returns the raw bytes of the answer's `ok` value,
   * exactly as the module wrote them.
   * @param {object | Uint8Array | string} request an object with `op`, or
   *   the request's JSON text or bytes
   * @returns {Promise<Uint8Array>}
   */
  callRaw(request) {
    let bytes;
    try {
      bytes = encodeRequest(request, this.#options.maxRequestBytes);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#pool) {
      if (this.#closed) return Promise.reject(new VaktError('internal', 'the engine is closed'));
      return this.#pool.call(bytes);
    }
    return this.#enqueue(() => this.#exchange(bytes));
  }

  /**
   * Sends one request and returns the answer's `ok` value, parsed.
   * @param {object | Uint8Array | string} request
   * @returns {Promise<any>}
   */
  async call(request) {
    return JSON.parse(utf8Decoder.decode(await this.callRaw(request)));
  }

  /**
   * Decides one command on a user's (or tenant's) stream.
   * @param {import('./index.js').DecideInput} input
   * @returns {Promise<import('./index.js').Decision>}
   */
  async decide(input) {
    /** @type {{events: object[], reply?: object, error?: {code: string, message: string}}} */
    const ok = await this.call(decideRequest(input));
    /** @type {import('./index.js').Decision} */
    const decision = { events: ok.events ?? [] };
    if (ok.reply !== undefined) decision.reply = ok.reply;
    if (ok.error !== undefined) decision.error = new VaktError(ok.error.code, ok.error.message);
    return decision;
  }

  /**
   * Like decide, but returns the raw bytes of the decision
   * (`{"events":[...],"reply":...,"error":...}`) as the module wrote them.
   * @param {import('./index.js').DecideInput} input
   * @returns {Promise<Uint8Array>}
   */
  decideRaw(input) {
    let req;
    try {
      req = decideRequest(input);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.callRaw(req);
  }

  /**
   * Folds events into a user's (or, with user "", the tenant's) state.
   * @param {import('./index.js').EvolveInput} input
   * @returns {Promise<{v: number, state: any}>}
   */
  evolve(input) {
    return this.#op(evolveRequest, input);
  }

  /**
   * Folds events into a read model (security_info, challenge_status,
   * audit_trail, tenant_stats).
   * @param {import('./index.js').ProjectInput} input
   * @returns {Promise<{model: string, state: any}>}
   */
  project(input) {
    return this.#op(projectRequest, input);
  }

  /**
   * The module's ABI version, state version, request limit and ops.
   * @returns {Promise<{abi: number, state_version: number, max_request: number, ops: string[]}>}
   */
  info() {
    return this.call({ op: 'info' });
  }

  /**
   * @template I
   * @param {(input: I) => string} build
   * @param {I} input
   */
  async #op(build, input) {
    return this.call(build(input));
  }

  /** Releases the instance (and stops the threads); later calls reject. */
  close() {
    this.#closed = true;
    this.#instance = null;
    this.#pool?.close();
  }

  /**
   * @template T
   * @param {() => T} fn
   * @returns {Promise<T>}
   */
  #enqueue(fn) {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** @param {Uint8Array} bytes */
  #exchange(bytes) {
    if (this.#closed) throw new VaktError('internal', 'the engine is closed');
    if (this.#instance === null) {
      this.#instance = newInstance(this.#module, this.#options);
      this.#replaced++;
    }
    let answer;
    try {
      answer = this.#instance.roundTrip(bytes);
    } catch (err) {
      // A trap leaves the instance in an undefined state: never call it again.
      this.#instance = null;
      if (err instanceof VaktError) throw err;
      throw new TrapError(`the engine trapped (${describe(err)}); the instance was discarded, try again`, { cause: err });
    }
    if (this.#instance.memory.buffer.byteLength > this.#options.maxMemoryBytes) {
      this.#instance = null; // linear memory never shrinks: start afresh
    }
    return okBytes(answer);
  }
}

/**
 * Worker threads, each with its own in-thread Engine (src/thread.js). A call
 * goes to an idle thread or waits in a queue; a thread that dies is replaced
 * and its call fails with a TrapError. Idle threads do not keep the process
 * alive.
 */
class ThreadPool {
  /** @type {{worker: Worker, job: any, replaced: number}[]} */
  #threads = [];
  /** @type {{bytes: Uint8Array, resolve: (b: Uint8Array) => void, reject: (e: Error) => void}[]} */
  #queue = [];
  #module;
  #options;
  #closed = false;
  #died = 0;

  /**
   * @param {WebAssembly.Module} module
   * @param {Required<LoadOptions>} options
   */
  constructor(module, options) {
    this.#module = module;
    this.#options = options;
  }

  /**
   * @param {WebAssembly.Module} module
   * @param {Required<LoadOptions>} options
   * @param {number} n
   */
  static async start(module, options, n) {
    const pool = new ThreadPool(module, options);
    try {
      await Promise.all(Array.from({ length: n }, () => pool.#spawn()));
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  get replaced() {
    return this.#threads.reduce((sum, t) => sum + t.replaced, this.#died);
  }

  /** @returns {Promise<void>} */
  #spawn() {
    return new Promise((resolve, reject) => {
      const worker = new Worker(new URL('./thread.js', import.meta.url), {
        workerData: { module: this.#module, options: this.#options },
      });
      const t = { worker, job: /** @type {any} */ (null), replaced: 0 };
      let ready = false;
      worker.on('message', (msg) => {
        if (!ready) {
          if (!msg.ready) {
            worker.terminate();
            reject(revive(msg.error));
            return;
          }
          ready = true;
          worker.unref();
          this.#threads.push(t);
          resolve();
          this.#pump();
          return;
        }
        const job = t.job;
        t.job = null;
        t.replaced = msg.replaced;
        worker.unref();
        if (msg.error) job.reject(revive(msg.error));
        else job.resolve(msg.ok);
        this.#pump();
      });
      const died = (/** @type {unknown} */ why) => {
        const i = this.#threads.indexOf(t);
        if (i >= 0) this.#threads.splice(i, 1);
        if (!ready) {
          reject(new VaktError('internal', `an engine thread did not start: ${describe(why)}`));
          return;
        }
        this.#died += 1 + t.replaced;
        t.job?.reject(new TrapError(`the engine thread died (${describe(why)}); it was replaced, try again`, { cause: why }));
        t.job = null;
        if (!this.#closed) this.#spawn().catch(() => {});
      };
      worker.on('error', died);
      worker.on('exit', (code) => {
        if (this.#threads.includes(t) || !ready) died(`exit code ${code}`);
      });
    });
  }

  #pump() {
    for (const t of this.#threads) {
      if (this.#queue.length === 0) return;
      if (t.job !== null) continue;
      t.job = this.#queue.shift();
      t.worker.ref();
      t.worker.postMessage({ bytes: t.job.bytes });
    }
  }

  /**
   * @param {Uint8Array} bytes
   * @returns {Promise<Uint8Array>}
   */
  call(bytes) {
    return new Promise((resolve, reject) => {
      this.#queue.push({ bytes, resolve, reject });
      this.#pump();
    });
  }

  close() {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.reject(new VaktError('internal', 'the engine is closed'));
    for (const t of this.#threads.splice(0)) {
      t.job?.reject(new VaktError('internal', 'the engine is closed'));
      t.worker.terminate();
    }
  }
}

/**
 * An error posted by a thread, as the class it was.
 * @param {{name: string, code: string, message: string, version?: number}} e
 */
function revive(e) {
  if (e.name === 'TrapError') return new TrapError(e.message);
  if (e.name === 'AbiVersionError') return new AbiVersionError(e.version, e.message);
  return new VaktError(e.code, e.message);
}

/**
 * @param {WebAssembly.Module} module
 * @param {Required<LoadOptions>} options
 */
function newInstance(module, options) {
  try {
    return new Instance(module, options);
  } catch (err) {
    if (err instanceof VaktError) throw err;
    throw new VaktError('internal', `the module does not instantiate: ${describe(err)}`, { cause: err });
  }
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * @param {object | Uint8Array | string} request
 * @param {number} max
 */
function encodeRequest(request, max) {
  let bytes;
  if (request instanceof Uint8Array) {
    bytes = request;
  } else if (typeof request === 'string') {
    bytes = utf8.encode(request);
  } else if (request !== null && typeof request === 'object' && !Array.isArray(request)) {
    bytes = utf8.encode(JSON.stringify(request));
  } else {
    throw new VaktError('invalid_argument', 'the request must be an object with an "op" (or its JSON text or bytes)');
  }
  if (bytes.length > max) {
    throw new VaktError('invalid_argument', `the request is ${bytes.length} bytes, over the limit of ${max}: send fewer events`);
  }
  return bytes;
}

/**
 * Splits an answer into its raw `ok` bytes or throws its error.
 * @param {Uint8Array} answer
 */
function okBytes(answer) {
  const members = topLevelMembers(answer);
  if (members === null) {
    throw new VaktError('internal', 'the engine answered something that is not a JSON object');
  }
  const ok = members.get('ok');
  if (ok !== undefined) return answer.slice(ok[0], ok[1]);
  const err = members.get('error');
  if (err !== undefined) {
    let e;
    try {
      e = JSON.parse(utf8Decoder.decode(answer.subarray(err[0], err[1])));
    } catch {
      e = null;
    }
    if (e !== null && typeof e === 'object' && typeof e.code === 'string') {
      throw new VaktError(e.code, String(e.message ?? ''));
    }
  }
  throw new VaktError('internal', 'the engine answered neither ok nor a well-formed error');
}

/**
 * @param {unknown} input
 * @param {string} op
 * @param {string} shape
 * @returns {Record<string, any>}
 */
function object(input, op, shape) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new VaktError('invalid_argument', `${op} takes an object: ${shape}`);
  }
  return /** @type {Record<string, any>} */ (input);
}

/**
 * A JSON array of envelopes. Each may be an object or its stored JSON (string
 * or bytes), which is passed on verbatim.
 * @param {unknown} list
 * @param {string} name
 */
function envelopes(list, name) {
  if (!Array.isArray(list)) throw new VaktError('invalid_argument', `${name} must be an array of event envelopes`);
  const parts = [];
  for (const e of list) {
    if (typeof e === 'string') parts.push(e);
    else if (e instanceof Uint8Array) parts.push(utf8Decoder.decode(e));
    else parts.push(JSON.stringify(e));
  }
  return `[${parts.join(',')}]`;
}

/**
 * The stream and state-cache fields common to decide and evolve.
 * @param {Record<string, any>} input
 * @param {string} op
 */
function streamFields(input, op) {
  const { tenant, user = '', state, after, keep } = input;
  if (typeof tenant !== 'string' || typeof user !== 'string') {
    throw new VaktError('invalid_argument', `${op}: tenant and user must be strings (user "" for the tenant stream)`);
  }
  let s = `{"op":"${op}","tenant":${JSON.stringify(tenant)},"user":${JSON.stringify(user)}`;
  if (state !== undefined && state !== null) s += `,"state":${JSON.stringify(state)}`;
  if (after !== undefined && after !== null) s += `,"after":${JSON.stringify(after)}`;
  if (keep) s += ',"keep":true';
  return s;
}

/**
 * @param {import('./index.js').DecideInput} input
 * @returns {string}
 */
function decideRequest(input) {
  const i = object(input, 'decide', '{tenant, user, given, time, entropy, command, ...}');
  if (i.command === undefined) throw new VaktError('invalid_argument', 'decide: command is required: {"<type>": {...}}');
  let s = streamFields(i, 'decide');
  if (i.policy !== undefined && i.policy !== null) s += `,"policy":${JSON.stringify(i.policy)}`;
  if (i.dataKey !== undefined && i.dataKey !== null) s += `,"data_key":${JSON.stringify(hex(i.dataKey, 'dataKey'))}`;
  s += `,"given":${envelopes(i.given ?? [], 'given')}`;
  s += `,"time":${JSON.stringify(timeString(i.time))}`;
  s += `,"entropy":${JSON.stringify(hex(i.entropy, 'entropy'))}`;
  s += `,"command":${JSON.stringify(i.command)}}`;
  return s;
}

/**
 * @param {import('./index.js').EvolveInput} input
 * @returns {string}
 */
function evolveRequest(input) {
  const i = object(input, 'evolve', '{tenant, user, given, state?, after?, keep?}');
  return `${streamFields(i, 'evolve')},"given":${envelopes(i.given ?? [], 'given')}}`;
}

/**
 * @param {import('./index.js').ProjectInput} input
 * @returns {string}
 */
function projectRequest(input) {
  const i = object(input, 'project', '{model, events, state?}');
  if (typeof i.model !== 'string') {
    throw new VaktError('invalid_argument', 'project: model must be one of security_info, challenge_status, audit_trail, tenant_stats');
  }
  let s = `{"op":"project","model":${JSON.stringify(i.model)}`;
  if (i.state !== undefined && i.state !== null) s += `,"state":${JSON.stringify(i.state)}`;
  return `${s},"events":${envelopes(i.events ?? [], 'events')}}`;
}

/**
 * @param {unknown} v
 * @param {string} name
 */
function hex(v, name) {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  throw new VaktError('invalid_argument', `${name} must be hex text or bytes`);
}

/** @param {unknown} t */
function timeString(t) {
  if (typeof t === 'string') return t;
  if (t instanceof Date && !Number.isNaN(t.getTime())) return t.toISOString();
  throw new VaktError('invalid_argument', 'time must be an RFC 3339 string or a Date: the engine never reads the clock');
}
