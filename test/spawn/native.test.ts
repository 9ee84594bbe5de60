// The spawner suite on the native posix_spawn backend (skipped when the addon is not built).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSpawner } from '../../src/spawn/spawner.js';
import { makeFixtures, readAll } from './fixtures.js';
import { silentLogger } from '../../src/log.js';
import { loadNativeStarter } from '../../src/spawn/native-backend.js';
import { spawnSuite } from './suite.js';

const available = loadNativeStarter(silentLogger()) !== null;
if (!available) console.log('# native spawn addon not built (npm run build:native): skipping its suite');
spawnSuite('native', available ? false : 'native spawn addon not built');

// The addon reaps with waitid(P_PID) on its own pids only; libuv waitpid()s its own. Mixed in one
// process, each side must still see its children's real exit codes.

test('[native] native and child_process children side by side keep their own exit statuses', { timeout: 30_000, skip: available ? false : 'native spawn addon not built' }, async (t) => {
  const fx = makeFixtures();
  t.after(() => fx.remove());
  const opts = { maxChildren: 16, queueSize: 256, killGraceMs: 300, stderrLimit: 4096 } as const;
  const native = createSpawner({ ...opts, backend: 'native' }, silentLogger());
  const node = createSpawner({ ...opts, backend: 'node' }, silentLogger());
  t.after(() => Promise.all([native.close(), node.close()]));
  const run = async (i: number): Promise<void> => {
    const s = i % 2 === 0 ? native : node;
    const code = String(i % 7);
    const child = await s.spawn({ file: fx.path('exit.sh'), args: [], cwd: fx.dir, env: { PATH: '/bin', CODE: code }, stdin: null, idleTimeoutMs: 0, timeoutMs: 10_000 });
    await readAll(child.stdout);
    assert.equal((await child.exited).code, Number(code), `child ${i} (${s.backend})`);
  };
  await Promise.all(Array.from({ length: 100 }, (_, i) => run(i)));
});
