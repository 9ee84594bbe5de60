// A finished child lets go of everything its callbacks closed over (the request, its response).
//
// The native addon holds the JS callbacks of a child by strong references. They close over the
// child's JS wrapper, which holds the addon's External: had the references lived until the
// External's finalizer, each request would have been kept for ever (seen: 8 KB of heap per
// /cgi-bin/ request, 900 MB after a few minutes of load). The test watches objects the callbacks
// close over with WeakRefs and checks that the garbage collector takes them once the children
// exited, for both backends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createSpawner } from '../../src/spawn/spawner.js';
import { loadNativeStarter } from '../../src/spawn/native-backend.js';
import { silentLogger } from '../../src/log.js';
import { makeFixtures, readAll } from './fixtures.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const nativeAvailable = loadNativeStarter(silentLogger()) !== null;

/** Runs `count` children whose stderr callbacks close over a marker; returns WeakRefs to the markers. */
async function runChildren(backend: 'native' | 'node', file: string, cwd: string, count: number): Promise<Array<WeakRef<object>>> {
  const spawner = createSpawner({ maxChildren: 8, queueSize: 256, killGraceMs: 300, stderrLimit: 4096, backend }, silentLogger());
  const refs: Array<WeakRef<object>> = [];
  try {
    const one = async (): Promise<void> => {
      // What a request is to the gateway: a big object the callbacks reach.
      const marker = { request: new Array(1000).fill('x') };
      refs.push(new WeakRef(marker));
      const lines: string[] = [];
      const child = await spawner.spawn({
        file, args: [], cwd, env: { PATH: '/bin:/usr/bin' }, stdin: null, idleTimeoutMs: 0, timeoutMs: 10_000,
        onStderrLine: (line) => lines.push(line + marker.request.length),
      });
      await readAll(child.stdout);
      await child.exited;
    };
    for (let i = 0; i < count; i += 8) await Promise.all(Array.from({ length: Math.min(8, count - i) }, one));
  } finally {
    await spawner.close();
  }
  return refs;
}

async function collectedAfterGc(refs: ReadonlyArray<WeakRef<object>>): Promise<number> {
  // Handles close in libuv callbacks after the exit was told: give them turns between the GCs.
  for (let round = 0; round < 10; round++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
    if (refs.every((r) => r.deref() === undefined)) break;
  }
  return refs.filter((r) => r.deref() === undefined).length;
}

for (const backend of ['native', 'node'] as const) {
  const skip = backend === 'native' && !nativeAvailable ? 'native spawn addon not built' : false;
  test(`[${backend}] a finished child's callbacks and what they close over are garbage`, { timeout: 60_000, skip }, async (t) => {
    const fx = makeFixtures();
    t.after(() => fx.remove());
    const refs = await runChildren(backend, fx.path('stderr.sh'), fx.dir, 40);
    assert.equal(await collectedAfterGc(refs), refs.length, `${backend}: objects the callbacks of finished children closed over are still alive`);
  });
}
