// The master's lifecycle under load, with real signals: crash, reload, recycling, timeout, scaling.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fcgiRequest, steadyLoad } from './fcgi-client.js';
import { counterParams, killAllPools, scriptParams, sleep, startPool } from './harness.js';

after(killAllPools);

test('kill -9 of a worker under load: only its in-flight requests fail; back to N within a second', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 2 });
  try {
    const concurrency = 8;
    const load = steadyLoad(pool.address, () => scriptParams(pool.cgiBin, 'slow.mjs', 'ms=20'), concurrency);
    await sleep(500);
    const before = pool.liveWorkers();
    const victim = [...before][0]!;
    const from = pool.lines.length;
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');
    const ready = await pool.waitFor((l) => l.msg === 'worker ready' && !before.has(l.workerPid!), 5000, 'replacement ready', from);
    // Back to N within a second; on a machine so loaded that Node itself takes longer to start,
    // the master's own share (kill -> fork) must still be small.
    const total = (ready['time'] as number) - killedAt;
    const boot = ready['bootMs'] as number;
    assert.ok(total < 1000 || total - boot < 300, `replacement took ${total} ms (worker boot ${boot} ms)`);
    await sleep(500);
    const report = await load.stop();
    assert.equal(pool.liveWorkers().size, 2);
    assert.ok(report.ok > 50, `only ${report.ok} requests succeeded`);
    // Each load loop has one request in flight: at most `concurrency` can have been on the victim.
    assert.ok(report.failed <= concurrency, `${report.failed} failed: ${report.errors.slice(0, 5).join('; ')}`);
    assert.ok(pool.lines.some((l) => l.msg === 'worker died unexpectedly; replacing it' && l.workerPid === victim));
  } finally {
    await pool.close();
  }
});

test('SIGHUP reloads under steady load with zero failed requests, and new code is served after', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 2 });
  try {
    const params = (): Record<string, string> => scriptParams(pool.cgiBin, 'version.mjs');
    const load = steadyLoad(pool.address, params, 6);
    await sleep(400);
    writeFileSync(join(pool.cgiBin, 'version.mjs'), "export default () => new Response('v2 pid=' + process.pid + '\\n');\n");
    const from = pool.lines.length;
    pool.signal('SIGHUP');
    await pool.waitFor((l) => l.msg === 'reload complete', 15_000, 'reload complete', from);
    await sleep(300);
    const report = await load.stop();
    assert.equal(report.failed, 0, report.errors.slice(0, 5).join('; '));
    assert.ok(report.ok > 50, `only ${report.ok} requests`);
    assert.ok(report.bodies.some((b) => b.startsWith('v1')) && report.bodies.some((b) => b.startsWith('v2')));
    for (let i = 0; i < 6; i++) assert.match((await fcgiRequest(pool.address, params())).body, /^v2 /);
    assert.equal(pool.liveWorkers().size, 2);
    assert.equal(pool.count('worker exited', from), 2);
  } finally {
    await pool.close();
  }
});

test('--max-requests recycles workers under load with zero failed requests', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 2, maxRequests: 25, maxRequestsJitter: 10 });
  try {
    const load = steadyLoad(pool.address, () => counterParams(pool.cgiBin), 4);
    // Run until five fresh workers have served (each starts its counter at 1): a request count
    // alone is reached before enough replacements boot now that requests are fast.
    const fresh = (): number => load.report.bodies.filter((b) => b.startsWith('count=1 ')).length;
    await pool.waitUntil(() => load.report.ok >= 600 && fresh() >= 5, 20_000, '600 requests and five fresh workers');
    const report = await load.stop();
    assert.equal(report.failed, 0, report.errors.slice(0, 5).join('; '));
    const recycled = pool.count('worker retiring; replacing it');
    assert.ok(recycled >= 4, `only ${recycled} recycled`);
    // Fresh workers started counting again (module state is per process).
    const restarts = report.bodies.filter((b) => b.startsWith('count=1 ')).length;
    assert.ok(restarts >= 5, `only ${restarts} fresh counters`);
    await pool.waitUntil(() => pool.liveWorkers().size === 2, 5000, 'two workers');
  } finally {
    await pool.close();
  }
});

test('a worker blocked past --worker-timeout is killed and replaced; its request ends, never hangs', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 2, workerTimeoutMs: 1000 });
  try {
    const before = pool.liveWorkers();
    const started = Date.now();
    const blocked = await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'block.mjs', 'ms=20000'), { timeoutMs: 10_000 }).then(
      (r) => `answered ${r.status}`,
      (err: Error) => err.message,
    );
    assert.match(blocked, /closed|ECONNRESET/, blocked);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    const line = await pool.waitFor((l) => /worker timed out/.test(l.msg), 5000, 'timeout log line');
    assert.ok(before.has(line.workerPid!));
    await pool.waitUntil(() => pool.liveWorkers().size === 2 && !pool.liveWorkers().has(line.workerPid!), 5000, 'replacement');
    assert.equal((await fcgiRequest(pool.address, counterParams(pool.cgiBin))).status, 200);
  } finally {
    await pool.close();
  }
});

test('SIGTTIN adds a worker, SIGTTOU removes one (never below one)', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 2 });
  try {
    pool.signal('SIGTTIN');
    await pool.waitUntil(() => pool.liveWorkers().size === 3, 5000, 'three workers');
    pool.signal('SIGTTOU');
    await pool.waitUntil(() => pool.liveWorkers().size === 2, 5000, 'two workers');
    pool.signal('SIGTTOU');
    await pool.waitUntil(() => pool.liveWorkers().size === 1, 5000, 'one worker');
    pool.signal('SIGTTOU');
    await pool.waitFor((l) => l.msg === 'worker count already at its minimum of 1', 5000, 'minimum warning');
    assert.equal(pool.liveWorkers().size, 1);
    assert.equal((await fcgiRequest(pool.address, counterParams(pool.cgiBin))).status, 200);
  } finally {
    await pool.close();
  }
});

test('SIGQUIT stops fast: in-flight requests are cut, the master exits 0 within about a second', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 2, shutdownTimeoutMs: 20_000 });
  try {
    const slow = fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'slow.mjs', 'ms=10000'), { timeoutMs: 15_000 }).then(
      (r) => `answered ${r.status}`,
      (err: Error) => err.message,
    );
    await sleep(200);
    const started = Date.now();
    pool.signal('SIGQUIT');
    const { code } = await pool.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    assert.match(await slow, /closed|ECONNRESET/);
  } finally {
    await pool.close();
  }
});

test('workers never outlive their master: kill -9 of the master makes them drain and exit', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 2 });
  try {
    const workers = [...pool.liveWorkers()];
    assert.equal(workers.length, 2);
    pool.signal('SIGKILL');
    await pool.exited;
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 5000;
    while (workers.some(alive)) {
      assert.ok(Date.now() < deadline, `workers still alive: ${workers.filter(alive).join(' ')}`);
      await sleep(50);
    }
  } finally {
    await pool.close();
  }
});
