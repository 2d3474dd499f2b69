// Types for @vakt/engine (src/index.js). Wire formats: wasm/ABI.md.

/** The ABI version this host speaks. */
export declare const ABI_VERSION: 1;
/** The largest request the module accepts: 4 MiB. */
export declare const MAX_REQUEST_BYTES: number;

/** Vakt's stable, append-only error codes, plus the ABI's `state_unknown`. */
export type ErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'conflict'
  | 'invalid_code'
  | 'code_reused'
  | 'expired'
  | 'locked_out'
  | 'enrolment_required'
  | 'method_not_allowed'
  | 'insufficient_proof'
  | 'push_paused'
  | 'erased'
  | 'unauthorized'
  | 'internal'
  | 'state_unknown'
  | (string & {});

/** The engine's typed error; the same codes in every host. */
export declare class VaktError extends Error {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown });
  readonly code: ErrorCode;
  toJSON(): { code: ErrorCode; message: string };
}

/** The module speaks another ABI version (or none). Code `internal`. */
export declare class AbiVersionError extends VaktError {
  constructor(version: number | undefined, message: string);
  readonly version: number | undefined;
}

/** An instance trapped and was discarded; the engine stays usable. Code `internal`. */
export declare class TrapError extends VaktError {
  constructor(message: string, options?: { cause?: unknown });
}

/** A stored event envelope: the object, or its JSON exactly as stored (passed on verbatim). */
export type Envelope = Record<string, unknown> | string | Uint8Array;

/** A stream's last event: its sequence number and chain hash (hex). */
export interface Head {
  seq: number;
  hash: string;
  [key: string]: unknown;
}

/** The state cache fields (wasm/ABI.md, decide): they change speed, never answers. */
export interface StreamInput {
  tenant: string;
  /** "" for the tenant stream. */
  user?: string;
  /** A folded state to start from (engine.User / engine.Tenant JSON). */
  state?: unknown;
  /** `given` holds only the events after this head, which this instance kept. */
  after?: Head;
  /** Keep the folded state in this instance for a later `after`. */
  keep?: boolean;
}

export interface DecideInput extends StreamInput {
  /** The tenant's complete policy; absent means the engine's defaults. */
  policy?: Record<string, unknown>;
  /** The user's 32-byte data key, hex or bytes; absent means none. */
  dataKey?: string | Uint8Array;
  /** The stream's events, oldest first. */
  given?: Envelope[];
  /** The decision time: RFC 3339 text or a Date. The engine never reads a clock. */
  time: string | Date;
  /** The seed of the decision's entropy stream, hex or bytes. */
  entropy: string | Uint8Array;
  /** The command in wire form: `{"<type>": {...}}`. */
  command: unknown;
}

export interface EvolveInput extends StreamInput {
  given?: Envelope[];
}

export type ReadModel = 'security_info' | 'challenge_status' | 'audit_trail' | 'tenant_stats';

export interface ProjectInput {
  model: ReadModel;
  /** The model as an earlier project answer returned it. */
  state?: unknown;
  events?: Envelope[];
}

/** A decided event: type, schema version and data. */
export interface DecidedEvent {
  type: string;
  v: number;
  data: Record<string, unknown>;
}

/**
 * A decision. With `error` and events, it is a recorded rejection: append the
 * events, then report the error.
 */
export interface Decision {
  events: DecidedEvent[];
  reply?: Record<string, unknown>;
  error?: VaktError;
}

export interface Info {
  abi: number;
  state_version: number;
  max_request: number;
  ops: string[];
  [key: string]: unknown;
}

export interface LoadOptions {
  /** Refuse requests larger than this (default and maximum: MAX_REQUEST_BYTES). */
  maxRequestBytes?: number;
  /** File descriptor for the guest's diagnostics (a Go panic's trace); default 2. */
  stderr?: number;
  /**
   * Replace the instance after a call that left its linear memory larger than
   * this (memory never shrinks). Default: no bound. Node cannot cap a module's
   * memory during a call.
   */
  maxMemoryBytes?: number;
  /**
   * Run the module in this many worker threads, one instance each, instead of
   * on the calling thread (default 0). Calls then run in parallel and never
   * block the event loop, at the cost of a message round trip per call.
   */
  threads?: number;
}

export type ModuleSource = string | URL | Uint8Array | ArrayBuffer | WebAssembly.Module;

/**
 * One compiled module and one live instance (or, with `threads`, one per
 * worker thread). Calls are queued and run one at a time per instance; a
 * trapped instance is replaced for the next call.
 */
export declare class Engine {
  private constructor();
  static load(source: ModuleSource, options?: LoadOptions): Promise<Engine>;
  /** How many times an instance was replaced (after a trap, or for outgrowing maxMemoryBytes). */
  readonly instancesReplaced: number;
  /** Sends a request; resolves to the raw bytes of the answer's `ok` value. */
  callRaw(request: Record<string, unknown> | Uint8Array | string): Promise<Uint8Array>;
  /** Sends a request; resolves to the answer's `ok` value, parsed. */
  call(request: Record<string, unknown> | Uint8Array | string): Promise<any>;
  decide(input: DecideInput): Promise<Decision>;
  /** The decision's bytes exactly as the module wrote them: `{"events":[...],"reply":...,"error":...}`. */
  decideRaw(input: DecideInput): Promise<Uint8Array>;
  evolve(input: EvolveInput): Promise<{ v: number; state: any }>;
  project(input: ProjectInput): Promise<{ model: ReadModel; state: any }>;
  info(): Promise<Info>;
  close(): void;
}
