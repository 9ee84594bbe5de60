// `forkfast serve` when every worker of its embedded pool is killed at once under load: the front
// learns from the pool master when new workers listen, so requests resume as soon as they do
// (a refused connect used to mark the pool down for 5 s and answer 502 to everything meanwhile).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT, makeFixtureDir, sleep } from '../pool/harness.js';

interface Outcome {
  readonly start: number;
  readonly end: number;
  readonly status: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function get(agent: http.Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

test('serve: all workers SIGKILLed under load; requests succeed again within 1 s of new workers listening', { timeout: 60_000 }, async () => {
  const { dir, cgiBin } = makeFixtureDir();
  const publicDir = join(dir, 'public');
  mkdirSync(publicDir);
  const port = await freePort();
  const args = [join(ROOT, 'dist', 'src', 'cli.js'), 'serve', '--listen', `127.0.0.1:${port}`, '--cgi-bin', cgiBin, '--public', publicDir, '--workers', '2', '--log-level', 'info'];
  const proc = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const ready: Array<{ pid: number; at: number }> = [];
  let out = '';
  let partial = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    partial += c;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      try {
        const j = JSON.parse(line) as { msg?: string; workerPid?: number };
        if (j.msg === 'worker ready' && typeof j.workerPid === 'number') ready.push({ pid: j.workerPid, at: performance.now() });
      } catch {
        // not a JSON line
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const deadline = Date.now() + 20_000;
    while (ready.length < 2 || (await get(agent, port, '/fcgi-bin/version.mjs')) !== 200) {
      assert.ok(Date.now() < deadline, `serve did not start:\n${out}`);
      await sleep(100);
    }
    const first = ready.map((r) => r.pid);
    const outcomes: Outcome[] = [];
    let running = true;
    const loops = Array.from({ length: 8 }, async () => {
      while (running) {
        const start = performance.now();
        const status = await get(agent, port, '/fcgi-bin/version.mjs');
        outcomes.push({ start, end: performance.now(), status });
      }
    });
    await sleep(500);
    const killedAt = performance.now();
    for (const pid of first) process.kill(pid, 'SIGKILL');
    const readyBy = Date.now() + 15_000;
    while (ready.filter((r) => !first.includes(r.pid)).length < 1) {
      assert.ok(Date.now() < readyBy, `no new worker became ready:\n${out.slice(-3000)}`);
      await sleep(20);
    }
    const back = ready.find((r) => !first.includes(r.pid))!.at;
    await sleep(1500);
    running = false;
    await Promise.all(loops);

    const failed = outcomes.filter((o) => o.status !== 200);
    const after = outcomes.filter((o) => o.start >= back + 1000);
    const firstOk = outcomes.filter((o) => o.start >= killedAt && o.status === 200).map((o) => o.end).sort((a, b) => a - b)[0] ?? Infinity;
    process.stdout.write(
      `# ${outcomes.length} requests, ${failed.length} failed (${failed.map((f) => f.status).join(',')}); new worker listening ${(back - killedAt).toFixed(0)} ms after the kill; ` +
        `first success ${(firstOk - back).toFixed(0)} ms after it\n`,
    );
    assert.ok(after.length > 0, 'requests ran after the new workers were up');
    assert.deepEqual(after.filter((o) => o.status !== 200), [], 'every request 1 s after the new workers listen succeeds');
    assert.ok(firstOk - back < 1000, `first success ${(firstOk - back).toFixed(0)} ms after a new worker listened`);
    // Only requests inside a killed worker may fail: each of the 8 clients has one request in
    // flight when the workers die, which on a loaded machine is some 100 ms after the SIGKILL. And
    // requests that waited longer than the client's connect timeout (5 s) for new workers fail.
    const detail = failed.map((o) => `${(o.start - killedAt).toFixed(0)}..${(o.end - killedAt).toFixed(0)}`).join(' ');
    const diedWithWorker = failed.filter((o) => o.end - killedAt < 1000);
    const waitedTooLong = failed.filter((o) => o.end - o.start >= 4900);
    assert.ok(diedWithWorker.length <= 8, `${diedWithWorker.length} requests died with the workers (ms from the kill: ${detail})`);
    assert.equal(failed.length, diedWithWorker.length + waitedTooLong.length, `a request failed that was neither in a killed worker nor waiting past the connect timeout (ms from the kill: ${detail})`);
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, out.slice(-3000));
  } finally {
    agent.destroy();
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
