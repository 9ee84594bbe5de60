// Connection limits of a pool worker: idle connections cannot lock new clients out.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { freePort } from './nginx-peer.js';
import { fcgiRequest } from './fcgi-client.js';
import { counterParams, killAllPools, makeFixtureDir, scriptParams, sleep, startPool } from './harness.js';

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

test('a handler module\'s stderr is tagged as worker log lines and capped (64 KiB a second)', { timeout: 60_000 }, async () => {
  const fixtures = makeFixtureDir();
  writeFileSync(join(fixtures.cgiBin, 'noisy.mjs'), "export default () => { for (let i = 0; i < 400; i++) console.error('x'.repeat(1023)); return new Response('noisy\\n'); };\n");
  const pool = await startPool({ workers: 1 }, fixtures);
  try {
    assert.equal((await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'noisy.mjs'))).status, 200);
    await sleep(1100);
    assert.equal((await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'noisy.mjs'))).status, 200);
    await pool.waitFor((l) => /the rest was dropped/.test(l.msg), 5000, 'the dropped line');
    const kept = pool.lines.filter((l) => l.msg === 'handler module wrote to stderr');
    assert.ok(kept.length > 0 && typeof kept[0]!['worker'] === 'number', JSON.stringify(kept[0]));
    // Two windows at most: 2 × 64 KiB of the 800 KiB written; none of it raw on stderr.
    const bytes = kept.reduce((n, l) => n + String(l['stderr']).length + 1, 0);
    assert.ok(bytes <= 2 * 64 * 1024, `${bytes} bytes kept`);
    assert.ok(!pool.stderr.join('').includes('xxxxxxxx'), 'raw handler stderr reached the master');
    const dropped = pool.lines.find((l) => /the rest was dropped/.test(l.msg))!;
    assert.ok((dropped['droppedBytes'] as number) > 300 * 1024, JSON.stringify(dropped));
  } finally {
    await pool.close();
  }
});
