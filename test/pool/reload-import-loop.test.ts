// A reload whose module loops forever at import: the new generation never listens; after the
// boot timeout the pool gives up on it and the old generation keeps serving.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { startEmbeddedPool } from '../../src/pool/master.js';
import { fcgiRequest } from './fcgi-client.js';
import { makeFixtureDir, scriptParams, sleep } from './harness.js';

const fixtures = makeFixtureDir();
after(() => rmSync(fixtures.dir, { recursive: true, force: true }));

test('a module that loops forever at import: the reload is abandoned after the boot timeout, the old workers serve', { timeout: 60_000 }, async () => {
  const pool = await startEmbeddedPool(
    {
      logLevel: 'silent',
      scripts: { cgiBin: fixtures.cgiBin, cgiTimeoutMs: 10_000, cgiIdleTimeoutMs: 10_000, maxChildren: 4, queueSize: 16, spawnBackend: 'node', passEnv: {}, passAuthorization: false },
      pool: { workers: 1, maxRequests: 0, maxRequestsJitter: 0, workerTimeoutMs: 10_000, fetchObjects: 'light' },
      shutdownTimeoutMs: 5000,
    },
    silentLogger(),
    { reloadOnEdit: true, bootTimeoutMs: 4000 },
  );
  try {
    const version = scriptParams(fixtures.cgiBin, 'version.mjs');
    const address = { path: pool.address };
    assert.match((await fcgiRequest(address, version)).body, /^v1/);
    // One worker, which has imported v1: a second one would import the looping file on its first request.
    const oldPids = pool.stats().workers.map((w) => w.pid).sort();
    writeFileSync(join(fixtures.cgiBin, 'version.mjs'), `for (;;) {}\nexport default () => new Response('never');\n`);
    const started = Date.now();
    while (pool.stats().reload.failed === 0) {
      assert.ok(Date.now() - started < 30_000, JSON.stringify(pool.stats()));
      // The old generation answers all along.
      assert.match((await fcgiRequest(address, version)).body, /^v1/);
      await sleep(100);
    }
    const stats = pool.stats();
    assert.match(String(stats.reload.error), /not listening after 4000 ms/);
    assert.equal(stats.reload.completed, 0);
    assert.equal(stats.state, 'running');
    // The looping workers are killed; the old ones are the pool.
    const deadline = Date.now() + 10_000;
    while (pool.stats().workers.length !== 1 && Date.now() < deadline) await sleep(50);
    assert.deepEqual(pool.stats().workers.map((w) => w.pid).sort(), oldPids);
    assert.match((await fcgiRequest(address, version)).body, /^v1/);
  } finally {
    await pool.stop();
  }
});
