// forkfast's own FastCGI client (what `serve` mounts at /fcgi-bin/), multiplexing over kept
// connections, against a pool that reloads and recycles under load: no request may fail.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createFastcgiClient } from '../../src/fastcgi/client.js';
import { silentLogger } from '../../src/log.js';
import { counterParams, killAllPools, sleep, startPool } from './harness.js';

after(killAllPools);

test('the multiplexing FastCGI client sees zero failures through SIGHUP reloads and max-requests recycling', { timeout: 60_000 }, async () => {
  const pool = await startPool({ workers: 2, maxRequests: 200, maxRequestsJitter: 50 });
  const client = createFastcgiClient({ upstreams: ['path' in pool.address ? pool.address.path : ''], log: silentLogger(), spreadConns: 4 });
  try {
    let ok = 0;
    const failures: string[] = [];
    let running = true;
    const params = { ...counterParams(pool.cgiBin), REQUEST_METHOD: 'GET', QUERY_STRING: '' };
    const loops = Array.from({ length: 16 }, async () => {
      while (running) {
        try {
          const res = await client.request({ params, body: null });
          let out = '';
          for await (const chunk of res.stdout) out += String(chunk);
          await res.ended;
          if (/^Status: 200/.test(out)) ok += 1;
          else failures.push(out.slice(0, 80));
        } catch (err) {
          failures.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
        }
      }
    });
    await sleep(500);
    const from = pool.lines.length;
    pool.signal('SIGHUP');
    await pool.waitFor((l) => l.msg === 'reload complete', 15_000, 'first reload', from);
    const second = pool.lines.length;
    pool.signal('SIGHUP');
    await pool.waitFor((l) => l.msg === 'reload complete', 15_000, 'second reload', second);
    await pool.waitUntil(() => pool.count('worker retiring; replacing it', from) >= 2, 20_000, 'recycled workers');
    running = false;
    await Promise.all(loops);
    assert.deepEqual(failures.slice(0, 5), []);
    assert.ok(ok > 500, `only ${ok} requests`);
  } finally {
    await client.close();
    await pool.close();
  }
});
