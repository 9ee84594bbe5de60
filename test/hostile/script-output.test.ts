// Short hostile-script run on both mounts: statuses as the gateway rules say, memory bounded, nothing left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostileScripts } from './script-output.js';
import { startWorld } from './world.js';

test('misbehaving scripts on both mounts: expected status each, bounded memory, no process left', { timeout: 170_000 }, async (t) => {
  const w = await startWorld();
  t.after(() => w.stop());
  const f = await hostileScripts(w, 2, 2, 32 << 20);
  assert.deepEqual(f.failures, []);
  assert.ok(Number(f.figures['frontPeakRssMiB']) < 150, `front RSS ${f.figures['frontPeakRssMiB']} MiB`);
});
