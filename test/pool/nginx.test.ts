// nginx in front of a real pool, configured by examples/nginx.conf: modules, programs, keep-alive.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { killAllPools, makeFixtureDir, sleep, startPool } from './harness.js';
import { connectionsTo, findNginx, freePort, get, nginxConfig, startNginx, stopNginx } from './nginx-peer.js';

after(killAllPools);

test('nginx in front of the pool serves a handler module and a program over reused keep-alive connections', { timeout: 60_000 }, async (t) => {
  const nginx = findNginx();
  if (nginx === null) return t.skip('nginx not installed');
  const fixtures = makeFixtureDir();
  const poolPort = await freePort();
  const pool = await startPool({ workers: 1, listen: `127.0.0.1:${poolPort}`, workerTimeoutMs: 1500 }, fixtures);
  let proc: ChildProcess | null = null;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const httpPort = await freePort();
    const confPath = join(fixtures.dir, 'nginx.conf');
    writeFileSync(confPath, nginxConfig(fixtures.dir, httpPort, poolPort));
    const check = spawnSync(nginx, ['-t', '-c', confPath], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    proc = await startNginx(nginx, confPath, agent, httpPort);

    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await get(agent, httpPort, '/fcgi-bin/counter.mjs');
      assert.equal(r.status, 200, r.body);
      counts.push(Number(/count=(\d+)/.exec(r.body)?.[1]));
    }
    assert.deepEqual(counts, [1, 2, 3, 4, 5]);
    const first = connectionsTo(poolPort);
    assert.ok(first.size >= 1 && first.size <= 2, `nginx holds ${first.size} connections to the pool`);

    const prog = await get(agent, httpPort, '/fcgi-bin/hello.cgi/extra?x=1');
    assert.equal(prog.status, 200);
    assert.equal(prog.body, 'hello x=1\n');
    for (let i = 0; i < 5; i++) assert.equal((await get(agent, httpPort, '/fcgi-bin/slow.mjs?ms=1')).status, 200);
    // The same upstream connections carried every request: keep-alive reused, none reopened.
    const later = connectionsTo(poolPort);
    assert.deepEqual([...later].sort(), [...first].sort());

    assert.equal((await get(agent, httpPort, '/fcgi-bin/missing.mjs')).status, 404);
    assert.equal((await get(agent, httpPort, '/fcgi-bin/throw.mjs')).status, 500);
    // FCGI_STDERR lands in nginx's error log ("FastCGI sent in stderr").
    await sleep(100);
    assert.match(readFileSync(join(fixtures.dir, 'nginx-error.log'), 'utf8'), /FastCGI sent in stderr: "note from hello\.cgi/);

    // A handler that blocks its worker's event loop: the worker is killed at --worker-timeout and
    // nginx answers 502 at once, instead of holding the client until fastcgi_read_timeout.
    const started = Date.now();
    const blocked = await get(agent, httpPort, '/fcgi-bin/block.mjs?ms=30000');
    assert.equal(blocked.status, 502);
    assert.ok(Date.now() - started < 6000, `took ${Date.now() - started} ms`);
    await pool.waitFor((l) => /worker timed out/.test(l.msg), 5000, 'timeout line');
  } finally {
    agent.destroy();
    if (proc !== null) await stopNginx(proc);
    await pool.close();
  }
});

test('behind nginx keep-alive: SIGHUP reload and max-requests recycling under load fail no request', { timeout: 60_000 }, async (t) => {
  const nginx = findNginx();
  if (nginx === null) return t.skip('nginx not installed');
  const fixtures = makeFixtureDir();
  const poolPort = await freePort();
  const pool = await startPool({ workers: 2, listen: `127.0.0.1:${poolPort}`, maxRequests: 150, maxRequestsJitter: 50 }, fixtures);
  let proc: ChildProcess | null = null;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const httpPort = await freePort();
    const confPath = join(fixtures.dir, 'nginx.conf');
    writeFileSync(confPath, nginxConfig(fixtures.dir, httpPort, poolPort));
    proc = await startNginx(nginx, confPath, agent, httpPort);
    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const loops = Array.from({ length: 8 }, async () => {
      while (running) {
        try {
          const r = await get(agent, httpPort, '/fcgi-bin/counter.mjs');
          if (r.status === 200) ok += 1;
          else failures.push(`${r.status} ${r.body.slice(0, 100)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    });
    await sleep(500);
    const from = pool.lines.length;
    pool.signal('SIGHUP');
    await pool.waitFor((l) => l.msg === 'reload complete', 15_000, 'reload complete', from);
    await pool.waitUntil(() => pool.count('worker retiring; replacing it', from) >= 2, 20_000, 'two recycled workers');
    await sleep(300);
    running = false;
    await Promise.all(loops);
    const errorLog = readFileSync(join(fixtures.dir, 'nginx-error.log'), 'utf8');
    assert.deepEqual(failures, [], errorLog.split('\n').filter((l) => /\[error\]/.test(l)).slice(0, 5).join('\n'));
    assert.ok(ok > 200, `only ${ok} requests`);
  } finally {
    agent.destroy();
    if (proc !== null) await stopNginx(proc);
    await pool.close();
  }
});
