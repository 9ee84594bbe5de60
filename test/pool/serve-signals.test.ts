// `forkfast serve` steered by signals as `forkfast pool` is, and nothing left behind on any way
// out: a /cgi-bin/ program with a child of its own and the same under /fcgi-bin/ are running when
// the server is stopped; afterwards the process table and the server's TMPDIR are checked.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixtureDir, sleep } from './harness.js';
import { ServeProcess, freePort, get, killAllServes, running, startServe } from './serve-harness.js';

after(killAllServes);

type Way = 'SIGTERM' | 'SIGINT to the process group' | 'SIGQUIT' | 'SIGHUP, then SIGTERM';

async function everythingGone(s: ServeProcess, pids: number[]): Promise<void> {
  const deadline = Date.now() + 5000;
  while (pids.some(running) && Date.now() < deadline) await sleep(50);
  assert.deepEqual(pids.filter(running), [], `still running: ${pids.filter(running).join(' ')}\n${s.dump()}`);
  assert.deepEqual(s.tmpLeft(), [], 'the socket directory is removed');
  assert.equal(existsSync(s.pidFile), false, 'the pid file is removed');
  assert.equal(existsSync(`${s.pidFile}.state`), false, 'the reload state is removed');
}

for (const way of ['SIGTERM', 'SIGINT to the process group', 'SIGQUIT', 'SIGHUP, then SIGTERM'] as Way[]) {
  test(`serve, ${way}: short in-flight requests finish on both mounts, no script outlives it, no socket directory is left`, { timeout: 60_000 }, async () => {
    const s = await startServe({ args: ['--shutdown-timeout', '3'] });
    try {
      if (way === 'SIGHUP, then SIGTERM') {
        const workersBefore = s.workerPids();
        s.proc.kill('SIGHUP');
        await s.waitFor((l) => l.msg === 'reload complete', 30_000, 'reload complete');
        assert.equal(s.proc.exitCode, null, 'SIGHUP does not end serve');
        assert.equal((await get(s.port, '/fcgi-bin/counter.mjs')).status, 200);
        const deadline = Date.now() + 5000;
        while (workersBefore.some(running) && Date.now() < deadline) await sleep(50);
        assert.deepEqual(workersBefore.filter(running), [], 'the old generation exited');
      }
      // Long scripts with children of their own, on both mounts: cut at the deadline, and killed.
      const long = [get(s.port, '/cgi-bin/family.sh?cgi', 30_000).catch(() => null), get(s.port, '/fcgi-bin/family.sh?fcgi', 30_000).catch(() => null)];
      const family = [...(await s.family('cgi')), ...(await s.family('fcgi'))];
      // Short requests in flight when the signal comes: they finish (fast stops give them 1 s).
      const short = [get(s.port, '/cgi-bin/nap.sh'), get(s.port, '/fcgi-bin/slow.mjs?ms=400')];
      await sleep(100);
      const workers = s.workerPids();
      assert.ok(workers.length >= 2, s.dump());
      const started = Date.now();
      if (way === 'SIGINT to the process group') process.kill(-s.pid, 'SIGINT');
      else if (way === 'SIGQUIT') s.proc.kill('SIGQUIT');
      else s.proc.kill('SIGTERM');
      const answers = await Promise.all(short);
      assert.deepEqual(answers.map((a) => a.status), [200, 200], JSON.stringify(answers));
      assert.match(answers[0]!.body, /nap done/);
      assert.match(answers[1]!.body, /slow pid=/);
      const { code } = await s.exited;
      assert.equal(code, 0, s.dump());
      const took = Date.now() - started;
      if (way !== 'SIGTERM' && way !== 'SIGHUP, then SIGTERM') assert.ok(took < 4000, `a fast stop took ${took} ms`);
      await Promise.all(long);
      await everythingGone(s, [...family, ...workers]);
      if (way === 'SIGINT to the process group') {
        // The workers got the terminal's SIGINT too and left the decision to the master.
        assert.equal(s.lines.filter((l) => l.component === 'worker' && l.msg === 'worker quitting' && l.why === 'SIGINT').length, 0);
      }
    } finally {
      await s.close();
    }
  });
}

test('serve: workers that cannot boot end serve with exit 1 and one line; nothing is left behind', { timeout: 60_000 }, async () => {
  const fixtures = makeFixtureDir();
  // Throws in pool workers only: the master loads it too, where it does nothing.
  const preload = join(fixtures.dir, 'fail-in-worker.cjs');
  writeFileSync(preload, `if (process.env.FORKFAST_POOL_WORKER) throw new Error('no worker today');\n`);
  const tmp = join(fixtures.dir, 'tmp');
  mkdirSync(tmp);
  const s = new ServeProcess(fixtures.dir, fixtures.cgiBin, await freePort(), { tmpdir: tmp, env: { NODE_OPTIONS: `--require ${preload}` } });
  try {
    const { code } = await s.exited;
    assert.equal(code, 1, s.dump());
    assert.match(s.out.join(''), /^forkfast: the embedded FastCGI pool could not start its workers/m);
    await everythingGone(s, s.seenPids().filter((p) => p !== s.pid));
  } finally {
    await s.close();
  }
});

test('serve: SIGTTIN and SIGTTOU resize the embedded pool', { timeout: 60_000 }, async () => {
  const s = await startServe({ workers: 1 });
  try {
    s.proc.kill('SIGTTIN');
    await s.waitFor((l) => l.msg === 'worker count raised' && l.target === 2, 10_000, 'raised to 2');
    await s.waitFor(() => s.workerPids().length === 2, 30_000, 'two workers ready');
    s.proc.kill('SIGTTOU');
    await s.waitFor((l) => l.msg === 'worker count lowered' && l.target === 1, 10_000, 'lowered to 1');
    await s.waitFor(() => s.workerPids().length === 1, 30_000, 'one worker left');
    assert.equal((await get(s.port, '/fcgi-bin/counter.mjs')).status, 200);
  } finally {
    await s.close();
  }
});
