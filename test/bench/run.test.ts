// End-to-end tests of runBench: a short real run against our own forkfast server, and the bad inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchReport } from '../../src/bench/types.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const child = fileURLToPath(new URL('./run-child.js', import.meta.url));

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bench in a child process with a deadline; kills it (and reports) if it overruns. */
function bench(options: Partial<BenchOptions>, deadlineMs: number): Promise<Outcome> {
  const full: BenchOptions = { scripts: [], duration: 1, connections: 2, warmup: 0, progress: false, ...options };
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child, JSON.stringify(full)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      stderr += '\n[test deadline: killed]';
      p.kill('SIGKILL');
    }, deadlineMs);
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Pids of processes whose command line mentions `marker` (our temp dir): leftovers of a run. */
function processesMentioning(marker: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

async function withHttp(handler: (url: string) => number, fn: (base: string) => Promise<void>): Promise<void> {
  const server: Server = createServer((req, res) => {
    res.statusCode = handler(req.url ?? '/');
    res.end('x\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

test('a short real run: every phase measured, JSON, HTML, table, nothing left running', { timeout: 90000 }, async (t) => {
  if (!existsSync(join(root, 'dist/src/cli.js'))) return t.skip('forkfast is not built');
  if (!existsSync(join(root, 'node_modules/autocannon'))) return t.skip('autocannon not installed');
  const dir = mkdtempSync(join(tmpdir(), 'ff-bench-test-'));
  try {
    // A copy of the bundled examples under a unique path, so leftovers can be found by name.
    cpSync(join(root, 'cgi-bin'), join(dir, 'cgi-bin'), { recursive: true });
    const json = join(dir, 'report.json');
    const out = join(dir, 'report.html');
    const r = await bench({ scripts: ['hello.sh', 'hello.mjs'], cgiBin: join(dir, 'cgi-bin'), json, out, workers: 2 }, 75000);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    assert.deepEqual(report.phases.map((p) => `${p.script ?? '-'} ${p.mode}`), ['- static', 'hello.sh cgi', 'hello.sh fastcgi', 'hello.mjs cgi', 'hello.mjs fastcgi']);
    const stat = report.phases[0];
    assert.ok(stat && stat.reqPerSec > 0, 'static req/s');
    assert.ok(stat.usage && stat.usage.cpuS > 0 && stat.usage.peakRssBytes > 0, 'server usage measured');
    for (const p of report.phases) assert.ok(p.load.ok > 0, `${p.path} answered`);
    assert.equal(report.ratios.length, 2);
    assert.match(r.stdout, /script\s+mode\s+req\/s\s+samples\s+p50 ms/);
    assert.match(r.stdout, /; 2 pool workers; /, 'the worker count used');
    assert.match(r.stdout, /hello\.mjs\s+fcgi \(resident\)/);
    assert.match(r.stdout, /resident\/fork ratio for hello\.mjs/);
    assert.match(readFileSync(out, 'utf8'), /^<!doctype html>[\s\S]*<svg /);
    assert.match(r.stderr, /^bench: \/1k\.txt \(static\): 0 s warm-up \+ 1 s measured$/m, 'a plain progress line per phase');
    assert.match(r.stderr, /^bench: \/fcgi-bin\/hello\.mjs \(resident\): [\d,.]+ req\/s/m);
    assert.deepEqual(processesMentioning(dir), [], 'the server and its children are gone');
  } finally {
    for (const pid of processesMentioning(dir)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unknown script: exit 2 and a clear message, before any load', { timeout: 20000 }, async () => {
  const r = await bench({ scripts: ['no-such-script.sh'], cgiBin: join(root, 'cgi-bin') }, 15000);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown script "no-such-script\.sh"/);
  await withHttp((url) => (url === '/' ? 200 : 404), async (base) => {
    const viaUrl = await bench({ scripts: ['nope.sh'], url: base }, 15000);
    assert.equal(viaUrl.code, 2);
    assert.match(viaUrl.stderr, /unknown script "nope\.sh": .*answers 404/);
  });
});

test('bad options: exit 2', { timeout: 20000 }, async () => {
  const r = await bench({ scripts: ['hello.sh'], duration: 0 }, 15000);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--duration must be a positive number/);
});

test('every request failing: exit 1 naming the phase, no hang', { timeout: 30000 }, async (t) => {
  if (!existsSync(join(root, 'node_modules/autocannon'))) return t.skip('autocannon not installed');
  await withHttp((url) => (url === '/' ? 200 : 500), async (base) => {
    const r = await bench({ scripts: ['broken.sh'], url: base, duration: 0.5 }, 25000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /every request to \/cgi-bin\/broken\.sh failed \(0 errors, \d+ non-2xx responses\)/);
    assert.match(r.stdout, /broken\.sh\s+cgi \(fork\)/, 'the table is still printed');
  });
});

test('nothing listening at --url: exit 1, no hang', { timeout: 20000 }, async () => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  const r = await bench({ scripts: ['hello.sh'], url: `http://127.0.0.1:${port}` }, 15000);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+\/: ECONNREFUSED/);
});

test('--url to a server without an index page: no static ceiling, the scripts still measured', { timeout: 30000 }, async (t) => {
  if (!existsSync(join(root, 'node_modules/autocannon'))) return t.skip('autocannon not installed');
  await withHttp((url) => (url === '/' ? 404 : 200), async (base) => {
    const r = await bench({ scripts: ['x.sh'], url: base, duration: 0.5 }, 25000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no static ceiling: http:\/\/127\.0\.0\.1:\d+\/ answers 404/);
    assert.doesNotMatch(r.stdout, /^static/m);
    assert.match(r.stdout, /resident\/fork ratio for x\.sh/);
  });
});
