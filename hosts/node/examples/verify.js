// Decide a TOTP verification with the engine module, from a stream stored
// as JSON (here: the given events of the vector verify/totp).
//
//   node examples/verify.js            (from hosts/node, after `just wasm`)

import { readFileSync } from 'node:fs';

import { Engine, VaktError } from '@vakt/engine';

const root = new URL('../../../', import.meta.url);
const engine = await Engine.load(new URL('wasm/build/vakt.wasm', root));

const vector = JSON.parse(readFileSync(new URL('testdata/vectors/verify/totp.json', root), 'utf8'));
const decision = await engine.decide({
  tenant: 'uio.no',
  user: 'ola.nordmann',
  dataKey: vector.data_key, // the user's data key opens the sealed TOTP seed
  given: vector.given, // the user's stream, oldest first
  time: '2026-11-23T09:00:30Z', // the engine never reads a clock...
  entropy: vector.when.entropy, // ...or a random source: both travel in the request
  command: vector.when.command, // {"verify_code": {"challenge_id": ..., "code": ...}}
});

if (decision.error) console.log('refused:', decision.error.code, '-', decision.error.message);
for (const e of decision.events) console.log('event:', e.type);
console.log('reply:', JSON.stringify(decision.reply));

try {
  await engine.call({ op: 'no_such_op' });
} catch (err) {
  if (!(err instanceof VaktError)) throw err;
  console.log('typed error:', err.code);
}
