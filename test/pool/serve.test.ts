// `forkfast serve` end to end: the embedded pool behind /fcgi-bin/ keeps module state, /cgi-bin/
// does not; SIGTERM stops the front and its pool together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { ROOT, makeFixtureDir, sleep } from './harness.js';

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

test('serve: counter.mjs counts up under /fcgi-bin/ and stays 1 under /cgi-bin/; SIGTERM exits 0', { timeout: 60_000 }, async () => {
  const { dir, cgiBin } = makeFixtureDir();
  const publicDir = join(dir, 'public');
  mkdirSync(publicDir);
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const args = [join(ROOT, 'dist', 'src', 'cli.js'), 'serve', '--listen', `127.0.0.1:${port}`, '--cgi-bin', cgiBin, '--public', publicDir, '--workers', '2', '--log-level', 'info'];
  const proc = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 15_000;
    while ((await get(port, '/fcgi-bin/counter.mjs').catch(() => null)) === null) {
      assert.ok(Date.now() < deadline, `serve did not start:\n${out}`);
      await sleep(100);
    }
    const resident: number[] = [];
    const forked: number[] = [];
    for (let i = 0; i < 6; i++) {
      const f = await get(port, '/fcgi-bin/counter.mjs');
      assert.equal(f.status, 200, f.body);
      resident.push(Number(/count=(\d+)/.exec(f.body)?.[1]));
      const c = await get(port, '/cgi-bin/counter.mjs');
      assert.equal(c.status, 200, c.body);
      forked.push(Number(/count=(\d+)/.exec(c.body)?.[1]));
    }
    assert.deepEqual(forked, [1, 1, 1, 1, 1, 1]);
    // Two workers share the requests: the counts still climb past 1 (the first probe counted too).
    assert.ok(Math.max(...resident) >= 3, `resident counts ${resident.join(',')}`);
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.match(out, /pool stopped/);
  } finally {
    proc.kill('SIGKILL');
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
