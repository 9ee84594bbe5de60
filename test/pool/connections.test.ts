// Connection limits of a pool worker: idle connections cannot lock new clients out.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import net from 'node:net';
import { freePort } from './nginx-peer.js';
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

test('the unix socket has --listen-mode (0660 by default) whatever the umask', { timeout: 60_000 }, async () => {
  const old = process.umask(0);
  let pool;
  try {
    pool = await startPool({ workers: 1 });
  } finally {
    process.umask(old);
  }
  try {
    await pool.waitFor((l) => l.msg === 'socket permissions set', 10_000, 'socket permissions');
    assert.equal(statSync((pool.address as { path: string }).path).mode & 0o777, 0o660);
    assert.equal((await fcgiRequest(pool.address, counterParams(pool.cgiBin))).status, 200);
  } finally {
    await pool.close();
  }
  const narrow = await startPool({ workers: 1, extraArgs: ['--listen-mode', '0600'] });
  try {
    await narrow.waitFor((l) => l.msg === 'socket permissions set', 10_000, 'socket permissions');
    assert.equal(statSync((narrow.address as { path: string }).path).mode & 0o777, 0o600);
  } finally {
    await narrow.close();
  }
});

test('--allowed-clients: other TCP peers are closed at accept with one log line', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const pool = await startPool({ workers: 1, listen: `127.0.0.1:${port}`, extraArgs: ['--allowed-clients', '192.0.2.1'] });
  try {
    const refused = await fcgiRequest(pool.address, counterParams(pool.cgiBin), { timeoutMs: 5000 }).catch((err: Error) => err);
    assert.ok(refused instanceof Error);
    await pool.waitFor((l) => /not in --allowed-clients/.test(l.msg) && l['remote'] === '127.0.0.1', 5000, 'the refusal line');
  } finally {
    await pool.close();
  }
  const port2 = await freePort();
  const open = await startPool({ workers: 1, listen: `127.0.0.1:${port2}`, extraArgs: ['--allowed-clients', '192.0.2.1,127.0.0.1'] });
  try {
    assert.equal((await fcgiRequest(open.address, counterParams(open.cgiBin))).status, 200);
  } finally {
    await open.close();
  }
});
