// startEmbeddedPool (what `forkfast serve` mounts at /fcgi-bin/): private socket, reload, stop.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { startEmbeddedPool } from '../../src/pool/master.js';
import { fcgiRequest } from './fcgi-client.js';
import { counterParams, makeFixtureDir, sleep } from './harness.js';

const fixtures = makeFixtureDir();
after(() => rmSync(fixtures.dir, { recursive: true, force: true }));

test('an embedded pool listens on a private unix socket, reloads, and stops cleanly', { timeout: 30_000 }, async () => {
  const pool = await startEmbeddedPool(
    {
      logLevel: 'silent',
      scripts: { cgiBin: fixtures.cgiBin, cgiTimeoutMs: 10_000, cgiIdleTimeoutMs: 10_000, maxChildren: 4, queueSize: 16, spawnBackend: 'node', passEnv: {}, passAuthorization: false },
      pool: { workers: 2, maxRequests: 0, maxRequestsJitter: 0, workerTimeoutMs: 10_000, fetchObjects: 'light' },
      shutdownTimeoutMs: 5000,
    },
    silentLogger(),
  );
  let stopped = false;
  try {
    assert.equal(statSync(dirname(pool.address)).mode & 0o777, 0o700);
    assert.ok(statSync(pool.address).isSocket());
    const r = await fcgiRequest({ path: pool.address }, counterParams(fixtures.cgiBin));
    assert.equal(r.status, 200);
    assert.match(r.body, /^count=1 /);
    const before = new Set(pool.stats().workers.map((w) => w.pid));
    assert.equal(before.size, 2);
    pool.reload();
    const deadline = Date.now() + 15_000;
    while (!pool.stats().workers.every((w) => !before.has(w.pid) && w.state === 'ready') || pool.stats().workers.length !== 2) {
      assert.ok(Date.now() < deadline, JSON.stringify(pool.stats()));
      await sleep(50);
    }
    assert.equal((await fcgiRequest({ path: pool.address }, counterParams(fixtures.cgiBin))).status, 200);
    await pool.stop();
    stopped = true;
    assert.equal(await pool.done, 0);
    assert.equal(existsSync(dirname(pool.address)), false);
  } finally {
    if (!stopped) await pool.stop();
  }
});
