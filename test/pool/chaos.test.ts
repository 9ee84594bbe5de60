// Chaos, short: workers killed every 200 ms under load, and reloads and recycling under POST
// load behind nginx keep-alive. Failures are counted and bounded by what was in flight.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fcgiRequest, steadyLoad } from './fcgi-client.js';
import { startServer } from '../helpers/server.js';
import { ROOT, killAllPools, makeFixtureDir, scriptParams, sleep, startPool, type PoolProcess } from './harness.js';
import { findNginx, freePort, get, nginxConfig, post, startNginx, stopNginx, upstreamErrors } from './nginx-peer.js';

after(killAllPools);

/** The master's workers now (booting ones too), from /proc: its children but the socket keeper. */
function workersOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The comm field may hold spaces: the ppid is the second field after its closing paren.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid || !readFileSync(`/proc/${name}/cmdline`, 'latin1').includes('worker-main')) continue;
      if (!readFileSync(`/proc/${name}/environ`, 'latin1').includes('FORKFAST_POOL_KEEPER=')) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** SIGKILL of a random worker of `master` every `everyMs` for `forMs`; resolves the kill count. */
async function killRandomWorkers(master: { pid: number }, everyMs: number, forMs: number): Promise<number> {
  let kills = 0;
  const end = Date.now() + forMs;
  while (Date.now() < end) {
    await sleep(everyMs);
    const kids = workersOf(master.pid);
    if (kids.length === 0) continue;
    try {
      process.kill(kids[Math.floor(Math.random() * kids.length)]!, 'SIGKILL');
      kills += 1;
    } catch {
      // exited meanwhile
    }
  }
  return kills;
}

/** The pool keeps its workers and serves: no fatal line, the master runs, N ready again. */
async function assertRecovered(pool: PoolProcess, workers: number): Promise<void> {
  assert.equal(pool.lines.filter((l) => l.level >= 60).length, 0, pool.dump().slice(-3000));
  assert.equal(pool.proc.exitCode, null, 'the master exited');
  await pool.waitUntil(() => pool.liveWorkers().size === workers, 15_000, `${workers} workers again`);
  for (let i = 0; i < 4; i++) assert.equal((await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'counter.mjs'))).status, 200);
}

test('SIGKILL of a random worker every 200 ms under load: never halted, failures bounded by what was in flight', { timeout: 60_000 }, async (t) => {
  const pool = await startPool({ workers: 2 });
  try {
    const concurrency = 8;
    const load = steadyLoad(pool.address, () => scriptParams(pool.cgiBin, 'slow.mjs', 'ms=5'), concurrency);
    await sleep(300);
    const kills = await killRandomWorkers(pool, 200, 3000);
    await assertRecovered(pool, 2);
    const report = await load.stop();
    t.diagnostic(`pool: ${kills} kills, ${report.ok} ok, ${report.failed} failed`);
    // Each load loop has one request in flight: a kill cuts at most `concurrency` of them (a
    // request that meets no listener at all, both workers dead, fails too and is counted).
    assert.ok(report.failed <= kills * concurrency, `${report.failed} failed for ${kills} kills: ${report.errors.slice(0, 5).join('; ')}`);
    assert.ok(report.ok > 0);
    assert.ok(kills >= 10, `only ${kills} kills`);
    // A kill is never a boot failure: whatever it hit, no "failed to boot" line.
    assert.equal(pool.count('worker failed to boot'), 0, pool.dump().slice(-3000));
  } finally {
    await pool.close();
  }
});

/** nginx (examples/nginx.conf, keep-alive) in front of a pool with form.mjs; runs `body`. */
async function behindNginx(
  t: { skip: (why: string) => void },
  poolOpts: Parameters<typeof startPool>[0],
  body: (ctx: { pool: PoolProcess; httpPort: number; agent: http.Agent; dir: string }) => Promise<void>,
): Promise<void> {
  const nginx = findNginx();
  if (nginx === null) return t.skip('nginx not installed');
  const fixtures = makeFixtureDir();
  copyFileSync(join(ROOT, 'cgi-bin', 'form.mjs'), join(fixtures.cgiBin, 'form.mjs'));
  const poolPort = await freePort();
  const pool = await startPool({ ...poolOpts, listen: `127.0.0.1:${poolPort}` }, fixtures);
  let proc: ChildProcess | null = null;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const httpPort = await freePort();
    const confPath = join(fixtures.dir, 'nginx.conf');
    writeFileSync(confPath, nginxConfig(fixtures.dir, httpPort, poolPort));
    proc = await startNginx(nginx, confPath, agent, httpPort);
    await body({ pool, httpPort, agent, dir: fixtures.dir });
  } finally {
    agent.destroy();
    if (proc !== null) await stopNginx(proc);
    await pool.close();
  }
}

interface Tally {
  ok: number;
  failures: string[];
  stop(): Promise<void>;
}

/** `n` loops alternating POSTs and GETs to form.mjs through nginx, until stop(). */
function formLoad(agent: http.Agent, port: number, n: number): Tally {
  let running = true;
  const tally: Tally = { ok: 0, failures: [], stop: async () => {} };
  const loops = Array.from({ length: n }, async (_, i) => {
    for (let k = 0; running; k++) {
      try {
        const r = (k + i) % 2 === 0 ? await post(agent, port, '/fcgi-bin/form.mjs', `name=p${i}-${k}`) : await get(agent, port, `/fcgi-bin/form.mjs?name=g${i}-${k}`);
        if (r.status === 200 && r.body.includes(`${i}-${k}</b>`)) tally.ok += 1;
        else tally.failures.push(`${r.status} ${r.body.slice(0, 120)}`);
      } catch (err) {
        tally.failures.push((err as Error).message);
      }
    }
  });
  tally.stop = async () => {
    running = false;
    await Promise.all(loops);
  };
  return tally;
}

test('behind nginx keep-alive: 10 SIGHUP reloads under POST and GET load fail no request', { timeout: 120_000 }, async (t) => {
  await behindNginx(t, { workers: 2 }, async ({ pool, httpPort, agent, dir }) => {
    const load = formLoad(agent, httpPort, 12);
    await sleep(300);
    for (let i = 0; i < 10; i++) {
      const from = pool.lines.length;
      pool.signal('SIGHUP');
      await pool.waitFor((l) => l.msg === 'reload complete', 20_000, `reload ${i + 1} complete`, from);
      await sleep(150);
    }
    await load.stop();
    t.diagnostic(`nginx, 10 reloads: ${load.ok} ok, ${load.failures.length} failed`);
    assert.deepEqual(load.failures.slice(0, 5), [], upstreamErrors(dir));
    assert.ok(load.ok > 300, `only ${load.ok} requests`);
  });
});

test('behind nginx keep-alive: --max-requests recycling under POST and GET load fails no request', { timeout: 120_000 }, async (t) => {
  await behindNginx(t, { workers: 2, maxRequests: 100, maxRequestsJitter: 20 }, async ({ pool, httpPort, agent, dir }) => {
    const load = formLoad(agent, httpPort, 12);
    await pool.waitUntil(() => pool.count('worker retiring; replacing it') >= 8, 60_000, 'eight recycled workers');
    await sleep(300);
    await load.stop();
    t.diagnostic(`nginx, max-requests: ${pool.count('worker retiring; replacing it')} recycled, ${load.ok} ok, ${load.failures.length} failed`);
    assert.deepEqual(load.failures.slice(0, 5), [], upstreamErrors(dir));
  });
});

test('behind nginx: SIGKILL of a random worker every 200 ms, failures bounded by what was in flight', { timeout: 60_000 }, async (t) => {
  await behindNginx(t, { workers: 2 }, async ({ pool, httpPort, agent }) => {
    const concurrency = 12;
    const load = formLoad(agent, httpPort, concurrency);
    await sleep(300);
    const kills = await killRandomWorkers(pool, 200, 3000);
    await assertRecovered(pool, 2);
    await load.stop();
    t.diagnostic(`nginx: ${kills} kills, ${load.ok} ok, ${load.failures.length} failed`);
    assert.ok(load.failures.length <= kills * concurrency, `${load.failures.length} failed for ${kills} kills`);
    assert.ok(load.ok > 0);
  });
});

test('serve: SIGKILL of a random pool worker every 200 ms under load, failures bounded by what was in flight', { timeout: 90_000 }, async (t) => {
  const fixtures = makeFixtureDir();
  const server = await startServer(['--workers', '2', '--cgi-bin', fixtures.cgiBin, '--log-level', 'info'], { timeoutMs: 30_000 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const concurrency = 8;
    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const loops = Array.from({ length: concurrency }, async () => {
      while (running) {
        const r = await get(agent, server.port, '/fcgi-bin/slow.mjs?ms=5').catch((err: Error) => ({ status: 0, body: err.message }));
        if (r.status === 200) ok += 1;
        else failures.push(`${r.status} ${r.body.slice(0, 80)}`);
      }
    });
    await sleep(300);
    const kills = await killRandomWorkers({ pid: server.proc.pid! }, 200, 3000);
    // Serving again afterwards (the pool never halted, the front did not give up on it).
    const deadline = Date.now() + 20_000;
    while ((await get(agent, server.port, '/fcgi-bin/counter.mjs').catch(() => ({ status: 0 }))).status !== 200) {
      assert.ok(Date.now() < deadline, 'serve does not answer /fcgi-bin/ after the kills');
      await sleep(200);
    }
    running = false;
    await Promise.all(loops);
    t.diagnostic(`serve: ${kills} kills, ${ok} ok, ${failures.length} failed`);
    assert.equal(server.proc.exitCode, null);
    assert.ok(kills >= 10, `only ${kills} kills`);
    assert.ok(failures.length <= kills * concurrency, `${failures.length} failed for ${kills} kills: ${failures.slice(0, 5).join('; ')}`);
    assert.equal(server.logs().filter((l) => Number(l['level']) >= 60).length, 0);
  } finally {
    agent.destroy();
    await server.stop();
    rmSync(fixtures.dir, { recursive: true, force: true });
  }
});
