// The FastCGI client against a real embedded pool (2 worker processes): requests go to the least
// busy worker, and a worker spinning in a handler gets nothing more while another one is free.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../../src/log.js';
import { startEmbeddedPool, type EmbeddedPool } from '../../src/pool/master.js';
import { createFastcgiClient, type FastcgiClient } from '../../src/fastcgi/client.js';
import { makeFixtureDir, scriptParams, sleep } from '../pool/harness.js';

const fixtures = makeFixtureDir();
after(() => rmSync(fixtures.dir, { recursive: true, force: true }));

async function startPool(workers: number): Promise<EmbeddedPool> {
  return startEmbeddedPool(
    {
      logLevel: 'silent',
      scripts: { cgiBin: fixtures.cgiBin, cgiTimeoutMs: 10_000, cgiIdleTimeoutMs: 10_000, maxChildren: 4, queueSize: 16, spawnBackend: 'node', passEnv: {}, passAuthorization: false },
      pool: { workers, maxRequests: 0, maxRequestsJitter: 0, workerTimeoutMs: 30_000, fetchObjects: 'light' },
      shutdownTimeoutMs: 5000,
    },
    silentLogger(),
  );
}

/** The whole STDOUT of one request, with the time it completed. */
async function fetchText(client: FastcgiClient, name: string, query = ''): Promise<{ body: string; at: number }> {
  const res = await client.request({ params: { ...scriptParams(fixtures.cgiBin, name, query), REQUEST_METHOD: 'GET' }, body: null });
  const whole = res.takeComplete();
  let body: string;
  if (whole !== null) body = whole.toString();
  else {
    const parts: Buffer[] = [];
    for await (const c of res.stdout) parts.push(c as Buffer);
    body = Buffer.concat(parts).toString();
  }
  await res.ended;
  return { body, at: performance.now() };
}

const pidOf = (body: string): number => Number(/pid=(\d+)/.exec(body)?.[1] ?? 0);

test('concurrent requests reach both workers of a 2-worker pool', { timeout: 30_000 }, async () => {
  const pool = await startPool(2);
  const client = createFastcgiClient({ upstreams: [`unix:${pool.address}`], log: silentLogger(), spreadConns: 4, workers: 2 });
  try {
    const pids = new Set<number>();
    for (let round = 0; round < 10 && pids.size < 2; round++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => fetchText(client, 'version.mjs')));
      for (const a of answers) pids.add(pidOf(a.body));
    }
    assert.equal(pids.size, 2, `answered by ${[...pids].join(', ')}`);
    assert.equal(client.stats().upstreams[0]?.workers, 2);
  } finally {
    await client.close();
    await pool.stop();
  }
});

test('a handler spinning 2 s holds no light request: 20 sent with it all finish before it does', { timeout: 30_000 }, async () => {
  const pool = await startPool(2);
  const client = createFastcgiClient({ upstreams: [`unix:${pool.address}`], log: silentLogger(), spreadConns: 4, workers: 2 });
  try {
    // Warm: connections to both workers, their pids known.
    for (let round = 0; round < 20 && (client.stats().upstreams[0]?.workers ?? 0) < 2; round++) {
      await Promise.all(Array.from({ length: 20 }, () => fetchText(client, 'version.mjs')));
    }
    await sleep(50);
    const t0 = performance.now();
    const spinner = fetchText(client, 'block.mjs', 'ms=2000');
    const light = Array.from({ length: 20 }, () => fetchText(client, 'version.mjs'));
    const lights = await Promise.all(light);
    const spun = await spinner;
    assert.match(spun.body, /unblocked/);
    const lastLight = Math.max(...lights.map((l) => l.at));
    const lightMs = lastLight - t0;
    const spinMs = spun.at - t0;
    // Relative, not absolute: every light request ended before the spinning one did.
    assert.ok(lastLight < spun.at, `last light request after ${lightMs.toFixed(0)} ms, the spinner after ${spinMs.toFixed(0)} ms`);
    assert.ok(lightMs < spinMs / 2, `light requests took ${lightMs.toFixed(0)} ms of the spinner's ${spinMs.toFixed(0)} ms`);
    const spinnerPid = Number((await fetchText(client, 'version.mjs')).body.match(/pid=(\d+)/)?.[1] ?? 0);
    assert.ok(spinnerPid > 0);
    process.stdout.write(`# light requests done after ${lightMs.toFixed(1)} ms; spinner after ${spinMs.toFixed(0)} ms; light pids ${[...new Set(lights.map((l) => pidOf(l.body)))].join(',')}\n`);
  } finally {
    await client.close();
    await pool.stop();
  }
});

test('cold client: a spinner as the first request does not hold the light ones sent right after it', { timeout: 30_000 }, async () => {
  const pool = await startPool(2);
  const client = createFastcgiClient({ upstreams: [`unix:${pool.address}`], log: silentLogger(), spreadConns: 4, workers: 2 });
  try {
    const t0 = performance.now();
    const spinner = fetchText(client, 'block.mjs', 'ms=2000');
    await sleep(100); // the probe answered and the spinner is running
    const lights = await Promise.all(Array.from({ length: 20 }, () => fetchText(client, 'version.mjs')));
    const spun = await spinner;
    const lastLight = Math.max(...lights.map((l) => l.at));
    assert.ok(lastLight < spun.at, `last light request after ${(lastLight - t0).toFixed(0)} ms, the spinner after ${(spun.at - t0).toFixed(0)} ms`);
  } finally {
    await client.close();
    await pool.stop();
  }
});

test('every worker busy: one spinning, one awaiting a slow handler; a light request goes to the responsive one', { timeout: 30_000 }, async () => {
  const pool = await startPool(2);
  const client = createFastcgiClient({ upstreams: [`unix:${pool.address}`], log: silentLogger(), spreadConns: 4, workers: 2 });
  try {
    for (let round = 0; round < 20 && (client.stats().upstreams[0]?.workers ?? 0) < 2; round++) {
      await Promise.all(Array.from({ length: 20 }, () => fetchText(client, 'version.mjs')));
    }
    await Promise.all([fetchText(client, 'block.mjs', 'ms=1'), fetchText(client, 'slow.mjs', 'ms=1')]); // modules loaded
    const slow = fetchText(client, 'slow.mjs', 'ms=3000');
    await sleep(100); // its worker answered the ping: busy, but its event loop turns
    const spinner = fetchText(client, 'block.mjs', 'ms=2000');
    await sleep(100);
    const t0 = performance.now();
    const light = await fetchText(client, 'version.mjs');
    const spun = await spinner;
    assert.ok(light.at < spun.at, `the light request ended ${(light.at - t0).toFixed(0)} ms after it was sent, the spinner ${(spun.at - t0).toFixed(0)} ms after it`);
    assert.match((await slow).body, /slow pid=/);
  } finally {
    await client.close();
    await pool.stop();
  }
});
