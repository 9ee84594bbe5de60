// A worker that dies takes its programs with it, and the master's line names what it cut.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fcgiRequest } from './fcgi-client.js';
import { killAllPools, makeFixtureDir, scriptParams, sleep, startPool } from './harness.js';

after(killAllPools);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a worker killed at --worker-timeout: its program and the program\'s child die, the log names the requests', { timeout: 60_000 }, async () => {
  const fixtures = makeFixtureDir();
  // A program with a background child in its process group, both hanging.
  const family = join(fixtures.cgiBin, 'family.cgi');
  writeFileSync(family, '#!/bin/sh\nsleep 61 &\necho "$$ $!" > "$FAMILY_PID_FILE"\nexec sleep 62\n');
  chmodSync(family, 0o755);
  const pool = await startPool({ workers: 1, workerTimeoutMs: 2000 }, fixtures);
  try {
    const pidFile = join(pool.dir, 'family.pids');
    const hanging = fcgiRequest(pool.address, { ...scriptParams(pool.cgiBin, 'family.cgi'), FAMILY_PID_FILE: pidFile }, { timeoutMs: 30_000 }).catch((err: Error) => err);
    const deadline = Date.now() + 10_000;
    let pids: number[] = [];
    while (pids.length < 2) {
      assert.ok(Date.now() < deadline, 'the program did not start');
      await sleep(50);
      try {
        pids = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
      } catch {
        // not yet
      }
    }
    const from = pool.lines.length;
    const spinning = fcgiRequest(pool.address, { ...scriptParams(pool.cgiBin, 'block.mjs', 'ms=60000'), REQUEST_METHOD: 'POST', HTTP_X_REQUEST_ID: 'spin-1' }, { timeoutMs: 30_000 }).catch((err: Error) => err);
    const line = await pool.waitFor((l) => /worker timed out/.test(l.msg), 20_000, 'the timeout line', from);
    const requests = line['requests'] as Array<{ reqId: string; script: string; method: string; uri: string }>;
    assert.ok(Array.isArray(requests), JSON.stringify(line));
    assert.ok(requests.some((r) => r.reqId === 'spin-1' && r.script === '/fcgi-bin/block.mjs' && r.method === 'POST' && r.uri.startsWith('/fcgi-bin/block.mjs')), JSON.stringify(requests));
    assert.ok(requests.some((r) => r.script === '/fcgi-bin/family.cgi'), JSON.stringify(requests));
    assert.ok((line['inFlight'] as number) >= 2, JSON.stringify(line));
    await Promise.all([hanging, spinning]);
    // The program (its worker's child) and its background child (same process group) are gone.
    const until = Date.now() + 5000;
    while (pids.some(alive)) {
      assert.ok(Date.now() < until, `still running after their worker died: ${pids.filter(alive).join(' ')}`);
      await sleep(50);
    }
  } finally {
    await pool.close();
  }
});
