// Connection limits of a pool worker: idle connections cannot lock new clients out.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { fcgiRequest } from './fcgi-client.js';
import { counterParams, killAllPools, sleep, startPool } from './harness.js';

after(killAllPools);

test('FCGI_MAX_CONNS idle connections do not lock out a new client: the longest idle one is shed', { timeout: 60_000 }, async () => {
  const pool = await startPool({ workers: 1 });
  const idle: net.Socket[] = [];
  try {
    // 1024 (FCGI_MAX_CONNS of one worker) connections that send nothing.
    for (let i = 0; i < 1024; i++) {
      const s = net.connect(pool.address as net.NetConnectOpts);
      s.on('error', () => {});
      idle.push(s);
      await new Promise<void>((resolve) => s.once('connect', () => resolve()).once('error', () => resolve()));
    }
    await sleep(300);
    const first = idle[0]!;
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    const r = await fcgiRequest(pool.address, counterParams(pool.cgiBin), { timeoutMs: 10_000 });
    assert.equal(r.status, 200);
    // The oldest idle connection made room.
    await Promise.race([closed, sleep(5000).then(() => assert.fail('the oldest idle connection was not closed'))]);
    assert.ok(pool.lines.some((l) => /closing the longest idle one/.test(l.msg)), pool.dump().slice(-2000));
  } finally {
    for (const s of idle) s.destroy();
    await pool.close();
  }
});
