// A worker thread of an Engine loaded with `threads`: it runs its own
// in-thread Engine (one instance, calls one at a time) and answers the
// requests the main thread posts. See ThreadPool in index.js.

import { parentPort, workerData } from 'node:worker_threads';

import { Engine } from './index.js';

/** @param {any} err */
function serialise(err) {
  return {
    name: err?.name ?? 'Error',
    code: typeof err?.code === 'string' ? err.code : 'internal',
    message: String(err?.message ?? err),
    version: err?.version,
  };
}

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
/** @type {Engine} */
let engine;
try {
  engine = await Engine.load(workerData.module, workerData.options);
} catch (err) {
  port.postMessage({ ready: false, error: serialise(err) });
  port.close();
}
if (engine) {
  port.on('message', async ({ bytes }) => {
    try {
      const ok = await engine.callRaw(bytes);
      port.postMessage({ ok, replaced: engine.instancesReplaced }, [/** @type {ArrayBuffer} */ (ok.buffer)]);
    } catch (err) {
      port.postMessage({ error: serialise(err), replaced: engine.instancesReplaced });
    }
  });
  port.postMessage({ ready: true });
}
