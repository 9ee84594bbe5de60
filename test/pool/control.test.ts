// `forkfast reload` and `forkfast stop` against real servers: they wait for the outcome, say
// why they fail in one line, and never signal a process that is not forkfast.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fcgiRequest } from './fcgi-client.js';
import { killAllPools, makeFixtureDir, scriptParams, startPool } from './harness.js';
import { CLI, get, killAllServes, running, startServe } from './serve-harness.js';

after(killAllPools);
after(killAllServes);

function control(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FORKFAST_')));
    const p = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('reload/stop refuse a missing, stale or foreign pid file with one line, and signal nothing', { timeout: 30_000 }, async () => {
  const { dir } = makeFixtureDir();
  const missing = await control(['reload', '--pid', join(dir, 'none.pid')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^forkfast: no pid file .*none\.pid.*\n$/);
  const noFlag = await control(['stop']);
  assert.equal(noFlag.status, 2);
  assert.match(noFlag.stderr, /^forkfast: no pid file given/);
  // A pid that was forkfast's once and is gone now.
  const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  writeFileSync(join(dir, 'stale.pid'), gone.stdout);
  const stale = await control(['stop', '--pid', join(dir, 'stale.pid')]);
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, /^forkfast: the pid file .* is stale: process \d+ is not running\n$/);
  // A live process that is not forkfast keeps running, whatever was asked.
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    writeFileSync(join(dir, 'other.pid'), `${other.pid}\n`);
    for (const args of [['stop'], ['stop', '--fast'], ['reload']]) {
      const r = await control([...args, '--pid', join(dir, 'other.pid')]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^forkfast: process \d+ named by .* is not a forkfast serve or pool \(sleep 30\); not signalling it\n$/);
    }
    assert.ok(running(other.pid!), 'the foreign process was not signalled');
  } finally {
    other.kill('SIGKILL');
  }
});

test('forkfast reload waits for the new generation of a pool; a module that no longer imports fails it with file and line', { timeout: 90_000 }, async () => {
  const fixtures = makeFixtureDir();
  const pidFile = join(fixtures.dir, 'pool.pid');
  const pool = await startPool({ workers: 2, pidFile }, fixtures);
  try {
    const version = scriptParams(pool.cgiBin, 'version.mjs');
    assert.match((await fcgiRequest(pool.address, version)).body, /v1/);
    const ok = await control(['reload', '--pid', pidFile]);
    assert.equal(ok.status, 0, ok.stderr + pool.dump());
    assert.match(ok.stdout, /reloaded process \d+: generation 2 serves/);
    assert.ok(pool.count('reload complete') >= 1, 'done before the command returned');
    writeFileSync(join(pool.cgiBin, 'version.mjs'), `export default () =>\n  new Response('v2' +);\n`);
    const bad = await control(['reload', '--pid', pidFile]);
    assert.equal(bad.status, 1, pool.dump());
    assert.match(bad.stderr, /^forkfast: reload of process \d+ failed, the old workers keep serving: .*version\.mjs:2: SyntaxError/);
    assert.match((await fcgiRequest(pool.address, version)).body, /v1/);
    const stopped = await control(['stop', '--pid', pidFile]);
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.equal((await pool.exited).code, 0);
    assert.equal(existsSync(pidFile), false);
  } finally {
    await pool.close();
  }
});

test('forkfast stop --fast stops serve within the short deadline; a second stop finds nothing to stop', { timeout: 60_000 }, async () => {
  const s = await startServe({ args: ['--shutdown-timeout', '20'] });
  try {
    assert.equal((await get(s.port, '/fcgi-bin/counter.mjs')).status, 200);
    const slow = get(s.port, '/fcgi-bin/slow.mjs?ms=10000', 15_000).catch((err: Error) => err.message);
    const started = Date.now();
    const r = await control(['stop', '--fast', '--pid', s.pidFile]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.equal(s.proc.exitCode ?? (await s.exited).code, 0);
    await slow;
    const again = await control(['stop', '--pid', s.pidFile]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^forkfast: no pid file/);
  } finally {
    await s.close();
  }
});
