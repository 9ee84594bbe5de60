// examples/forkfast-pool.service: systemd-analyze verify, and its ExecStart/ExecReload/KillSignal
// played by hand against the real `forkfast pool` (no systemd needed for that part).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fcgiRequest, steadyLoad } from './fcgi-client.js';
import { ROOT, counterParams, killAllPools, makeFixtureDir, sleep } from './harness.js';

after(killAllPools);

const UNIT = readFileSync(join(ROOT, 'examples', 'forkfast-pool.service'), 'utf8');

function directive(name: string): string {
  const m = new RegExp(`^${name}=(.*)$`, 'm').exec(UNIT);
  assert.ok(m, `${name}= missing`);
  return m[1]!;
}

/** The unit with this machine's node and this checkout's CLI in ExecStart. */
function localUnit(extra: Array<[RegExp, string]> = []): string {
  let text = UNIT.replaceAll('/usr/bin/node', process.execPath).replaceAll('/srv/forkfast/node_modules/forkfast/dist/src/cli.js', join(ROOT, 'dist', 'src', 'cli.js'));
  for (const [from, to] of extra) text = text.replace(from, to);
  return text;
}

test('the systemd unit has the expected shape', () => {
  assert.equal(directive('Type'), 'simple');
  assert.match(directive('ExecReload'), / reload --pid \/run\/forkfast\/pool\.pid /);
  assert.match(directive('ExecStart'), / --pid \/run\/forkfast\/pool\.pid$/);
  assert.equal(directive('KillSignal'), 'SIGTERM');
  assert.equal(directive('KillMode'), 'mixed');
  assert.ok(Number(directive('TimeoutStopSec')) > 0);
  assert.match(directive('ExecStart'), / pool --listen \S+ --cgi-bin \S+ --workers \d+/);
  for (const h of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'ProtectHome=yes']) assert.ok(UNIT.includes(h), h);
});

test('systemd-analyze verify accepts the unit without a warning', { timeout: 30_000 }, (t) => {
  if (spawnSync('systemd-analyze', ['--version']).status !== 0) return t.skip('systemd-analyze not installed');
  const dir = makeFixtureDir().dir;
  try {
    const good = join(dir, 'forkfast-pool.service');
    writeFileSync(good, localUnit());
    const r = spawnSync('systemd-analyze', ['verify', good], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.split('\n').filter((l) => l.includes('forkfast-pool.service')).join('\n'), '');
    // The check can fail: a typo is reported (verify warns with exit status 0).
    const bad = join(dir, 'bad', 'forkfast-pool.service');
    spawnSync('mkdir', ['-p', join(dir, 'bad')]);
    writeFileSync(bad, localUnit([[/^KillMode=mixed$/m, 'KillMode=bogus']]));
    assert.match(spawnSync('systemd-analyze', ['verify', bad], { encoding: 'utf8' }).stderr, /kill mode/i);
    const sec = spawnSync('systemd-analyze', ['security', '--offline=yes', good], { encoding: 'utf8' });
    const level = /Overall exposure level for \S+: ([\d.]+)/.exec(sec.stdout + sec.stderr);
    if (level) assert.ok(Number(level[1]) <= 5, `exposure ${level[1]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ExecStart, ExecReload under load, then KillSignal: zero failures and exit 0', { timeout: 60_000 }, async () => {
  const { dir, cgiBin } = makeFixtureDir();
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const pidFile = join(dir, 'pool.pid');
  const local = (line: string): string[] => line.replace('/usr/bin/node', process.execPath).replace('/srv/forkfast/node_modules/forkfast/dist/src/cli.js', join(ROOT, 'dist', 'src', 'cli.js')).replace('/run/forkfast/pool.pid', pidFile).split(' ');
  const exec = directive('ExecStart')
    .replace('/usr/bin/node', process.execPath)
    .replace('/run/forkfast/pool.pid', pidFile)
    .replace('/srv/forkfast/node_modules/forkfast/dist/src/cli.js', join(ROOT, 'dist', 'src', 'cli.js'))
    .replace('127.0.0.1:9000', `127.0.0.1:${port}`)
    .replace('/srv/forkfast/cgi-bin', cgiBin)
    .replace(/--workers \d+/, '--workers 2')
    .split(' ');
  const master = spawn(exec[0]!, exec.slice(1), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  master.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  master.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => master.once('exit', (code) => resolve(code)));
  const address = { host: '127.0.0.1', port };
  try {
    const deadline = Date.now() + 15_000;
    while ((await fcgiRequest(address, counterParams(cgiBin)).catch(() => null)) === null) {
      assert.ok(Date.now() < deadline, `pool did not start:\n${out}`);
      await sleep(100);
    }
    const load = steadyLoad(address, () => counterParams(cgiBin), 4);
    await sleep(300);
    // ExecReload: forkfast reload, which returns once the new workers serve.
    const reloadCmd = local(directive('ExecReload'));
    const reload = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const p = spawn(reloadCmd[0]!, reloadCmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      p.once('close', (status) => resolve({ status, stderr }));
    });
    assert.equal(reload.status, 0, reload.stderr + out);
    assert.ok(out.includes('reload complete'), 'the reload was done when ExecReload returned');
    const report = await load.stop();
    assert.equal(report.failed, 0, report.errors.slice(0, 5).join('; '));
    // KillSignal=SIGTERM, KillMode=mixed: the master alone gets it and drains its workers.
    master.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(Number(directive('TimeoutStopSec')) * 1000).then(() => 'timeout')]);
    assert.equal(code, 0, out);
  } finally {
    master.kill('SIGKILL');
    for (const m of out.matchAll(/"workerPid":(\d+)/g)) {
      try {
        process.kill(Number(m[1]), 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
