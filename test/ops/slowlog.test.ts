// --slow-request: a spinning handler leaves its JavaScript stack in the log, an awaiting one a line.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { killAllPools, scriptParams, startPool } from '../pool/harness.js';
import { fcgiRequest } from '../pool/fcgi-client.js';

after(killAllPools);

test('a handler that spins past --slow-request leaves its stack, taken from inside the worker', { timeout: 60_000 }, async () => {
  const pool = await startPool({ workers: 1, workerTimeoutMs: 20_000, extraArgs: ['--slow-request', '0.3', '--status-path', '/status', '--pool-name', 'www'] });
  try {
    const spin = await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'block.mjs', 'ms=1500'), { timeoutMs: 10_000 });
    assert.match(spin.stdout, /unblocked/);
    const line = await pool.waitFor((l) => l.msg === 'slow request' && Array.isArray(l['stack']), 5000, 'a slow request line with a stack');
    const stack = line['stack'] as string[];
    assert.match(stack[0]!, /block\.mjs:\d+:\d+\)$/, `the top frame is the spinning handler: ${stack.join(' | ')}`);
    assert.equal(line['pool'], 'www');
    assert.equal(line['method'], 'GET');
    assert.equal(line['uri'], '/fcgi-bin/block.mjs?ms=1500');
    assert.match(String(line['script']), /block\.mjs$/);
    assert.ok(Number(line['durationMs']) >= 300, `durationMs ${String(line['durationMs'])}`);
    assert.ok(Number(line.pid) > 0 && line.pid !== pool.proc.pid, 'the worker, not the master, wrote it');

    const wait = await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'slow.mjs', 'ms=700'), { timeoutMs: 10_000 });
    assert.match(wait.stdout, /slow pid=/);
    const waiting = await pool.waitFor((l) => l.msg === 'slow request' && l['waiting'] === true, 5000, 'a slow request line for an awaiting handler');
    assert.equal(waiting['uri'], '/fcgi-bin/slow.mjs?ms=700');
    assert.equal(pool.count('slow request'), 2, 'one line per slow request');

    const fast = await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'slow.mjs', 'ms=1'), { timeoutMs: 10_000 });
    assert.match(fast.stdout, /slow pid=/);
    const status = await fcgiRequest(pool.address, { ...scriptParams(pool.cgiBin, 'x', 'json'), SCRIPT_NAME: '/status', REQUEST_METHOD: 'GET', REMOTE_ADDR: '127.0.0.1' }, { timeoutMs: 10_000 });
    assert.equal((JSON.parse(status.body) as Record<string, unknown>)['slow requests'], 2, JSON.stringify(pool.lines.filter((l) => l.msg === 'slow request')));
  } finally {
    await pool.close();
  }
});
