// Pool workers through a real master: resident modules, programs, script resolution, failures.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fcgiRequest } from './fcgi-client.js';
import { counterParams, killAllPools, makeFixtureDir, scriptParams, sleep, startPool } from './harness.js';

after(killAllPools);

test('counter.mjs counts up across requests in a resident worker', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 1 });
  try {
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await fcgiRequest(pool.address, counterParams(pool.cgiBin));
      assert.equal(r.status, 200);
      counts.push(Number(/count=(\d+)/.exec(r.body)?.[1]));
    }
    assert.deepEqual(counts, [1, 2, 3, 4, 5]);
  } finally {
    await pool.close();
  }
});

test('a program runs per request; its stderr comes back as FCGI_STDERR and in the log', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 1 });
  try {
    const r = await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'hello.cgi', 'x=1'));
    assert.equal(r.status, 200, r.stdout + pool.dump());
    assert.equal(r.body, 'hello x=1\n');
    assert.equal(r.appStatus, 0);
    assert.match(r.stderr, /note from hello\.cgi/);
    await pool.waitFor((l) => l.msg === 'script stderr' && l['line'] === 'note from hello.cgi', 5000, 'stderr log line');
  } finally {
    await pool.close();
  }
});

test('a program gets the body on stdin only with a CONTENT_LENGTH; large and slow outputs come whole', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 1 });
  try {
    const posted = await fcgiRequest(pool.address, { ...scriptParams(pool.cgiBin, 'echo.cgi'), REQUEST_METHOD: 'POST', CONTENT_LENGTH: '11' }, { stdin: 'hello world' });
    assert.equal(posted.status, 200, posted.stdout + pool.dump());
    assert.equal(posted.body, 'hello world');
    // No CONTENT_LENGTH (nginx sends it empty): stdin is at EOF, so `cat` ends at once even
    // though the client sends STDIN bytes anyway.
    for (const length of [undefined, '', '0']) {
      const params = { ...scriptParams(pool.cgiBin, 'echo.cgi'), REQUEST_METHOD: 'GET' };
      const got = await fcgiRequest(pool.address, params, { stdin: 'not a body', contentLength: length ?? null, timeoutMs: 5000 });
      assert.equal(got.status, 200);
      assert.equal(got.body, '', `CONTENT_LENGTH ${String(length)}`);
    }
    const big = await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'big.cgi'));
    assert.equal(big.status, 200);
    assert.equal(big.body.length, 307200);
    assert.match(big.body, /^b+$/);
    const slow = await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'slow.cgi'));
    assert.equal(slow.body, 'first\nsecond\n');
    assert.equal(slow.appStatus, 0);
  } finally {
    await pool.close();
  }
});

test('a program is killed when its client goes away', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 1 });
  try {
    const pidFile = join(pool.dir, 'sleeper.pid');
    const gone = await fcgiRequest(pool.address, { ...scriptParams(pool.cgiBin, 'sleeper.cgi'), SLEEPER_PID_FILE: pidFile }, { timeoutMs: 500 }).catch((err: Error) => err);
    assert.ok(gone instanceof Error);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        break; // reaped
      }
      assert.ok(Date.now() < deadline, `program ${pid} still running after its client left`);
      await sleep(50);
    }
  } finally {
    await pool.close();
  }
});

test('scripts outside --cgi-bin are 404 with a log line saying what and where', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 1 });
  try {
    const outside = join(pool.dir, 'secret.mjs');
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ SCRIPT_FILENAME: outside }, /outside --cgi-bin/],
      [{ SCRIPT_FILENAME: join(pool.cgiBin, '..', 'secret.mjs') }, /outside --cgi-bin/],
      [{ SCRIPT_FILENAME: join(pool.cgiBin, 'missing.mjs') }, /no such file/],
      [{ DOCUMENT_ROOT: pool.dir, SCRIPT_NAME: '/secret.mjs' }, /outside --cgi-bin/],
      [{ REQUEST_URI: '/x' }, /neither SCRIPT_FILENAME/],
    ];
    for (const [params, reason] of cases) {
      const from = pool.lines.length;
      const r = await fcgiRequest(pool.address, params);
      assert.equal(r.status, 404, JSON.stringify(params));
      const line = await pool.waitFor((l) => l.msg === 'script not found in --cgi-bin', 5000, '404 log line', from);
      assert.match(String(line['reason']), reason);
      assert.equal(line['cgiBin'], pool.cgiBin);
    }
    // DOCUMENT_ROOT + SCRIPT_NAME inside cgi-bin, and a relative SCRIPT_FILENAME, both work.
    assert.equal((await fcgiRequest(pool.address, { DOCUMENT_ROOT: pool.dir, SCRIPT_NAME: '/cgi-bin/counter.mjs' })).status, 200);
    assert.equal((await fcgiRequest(pool.address, { SCRIPT_FILENAME: 'counter.mjs' })).status, 200);
  } finally {
    await pool.close();
  }
});

test('a throwing handler answers 500 and logs its stack; stray errors do not kill the worker', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 1 });
  try {
    const r = await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'throw.mjs'));
    assert.equal(r.status, 500);
    const line = await pool.waitFor((l) => l.msg === 'handler threw', 5000, 'handler threw log line');
    // pino's err serializer: an object with the stack, which pino-pretty prints as a stack.
    assert.match(String((line['err'] as { stack?: string } | undefined)?.stack), /handler failure on purpose\n\s+at /);
    const s = await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'stray.mjs'));
    assert.equal(s.status, 200);
    await pool.waitFor((l) => /uncaught exception/.test(l.msg), 5000, 'uncaught exception line');
    await pool.waitFor((l) => l.msg === 'worker retiring; replacing it', 5000, 'retire after the uncaught exception');
    await pool.waitFor((l) => /unhandled rejection/.test(l.msg), 5000, 'unhandled rejection line');
    const c = await fcgiRequest(pool.address, counterParams(pool.cgiBin));
    assert.equal(c.status, 200);
    assert.equal(pool.count('worker died unexpectedly; replacing it'), 0);
  } finally {
    await pool.close();
  }
});

test('a handler that never answers gets 504 after the script timeout; the worker goes on', { timeout: 30_000 }, async () => {
  const pool = await startPool({ workers: 1, cgiTimeoutMs: 300 });
  try {
    const started = Date.now();
    const r = await fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'hang.mjs'));
    assert.equal(r.status, 504);
    assert.ok(Date.now() - started < 3000);
    await pool.waitFor((l) => l.msg === 'handler did not answer in time', 5000, 'timeout log line');
    assert.equal((await fcgiRequest(pool.address, counterParams(pool.cgiBin))).status, 200);
  } finally {
    await pool.close();
  }
});

test('SIGTERM drains in-flight requests and exits 0; the pid file comes and goes', { timeout: 30_000 }, async () => {
  const pidFile = 'pool.pid';
  const pool = await startPool({ workers: 2, pidFile });
  try {
    const path = join(pool.dir, pidFile);
    assert.equal(readFileSync(path, 'utf8').trim(), String(pool.pid));
    const slow = fcgiRequest(pool.address, scriptParams(pool.cgiBin, 'slow.mjs', 'ms=800'));
    await sleep(200);
    pool.signal('SIGTERM');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.match(r.body, /^slow pid=/);
    const { code } = await pool.exited;
    assert.equal(code, 0);
    assert.equal(existsSync(path), false);
    assert.equal(pool.count('worker exited'), 2);
  } finally {
    await pool.close();
  }
});

test('workers that cannot boot (no directory for the socket) make the master exit 1 with the reason', { timeout: 30_000 }, async () => {
  // A TCP port in use is refused before any worker is forked (test/http/cli-usage.test.ts); a
  // socket path in a missing directory still fails in every worker's bind.
  const fixtures = makeFixtureDir();
  const pool = await startPool({ workers: 2, listen: join(fixtures.dir, 'no-such-dir', 'pool.sock') }, fixtures);
  try {
    const { code } = await pool.exited;
    assert.equal(code, 1);
    const fatal = pool.lines.find((l) => l.level === 60 && /failed to boot/.test(l.msg));
    assert.ok(fatal, pool.dump());
    assert.match(String(fatal['reason']), /cannot listen on the pool socket: .*(ENOENT|EACCES)/);
  } finally {
    await pool.close();
  }
});

test('a unix socket with a live listener stops the start; a stale one is replaced', { timeout: 30_000 }, async () => {
  const fixtures = makeFixtureDir();
  const path = join(fixtures.dir, 'pool.sock');
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(path, resolve));
  const busy = await startPool({ workers: 1 }, fixtures);
  try {
    assert.equal((await busy.exited).code, 1);
    assert.ok(busy.lines.some((l) => l.level === 60 && /another server is listening/.test(l.msg)), busy.dump());
  } finally {
    busy.proc.kill('SIGKILL');
  }
  // A socket file nobody accepts on (a crashed master's): removed, then bound.
  squatter.close();
  await new Promise((r) => setTimeout(r, 50));
  const owner = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => owner.stdout!.once('data', resolve));
  owner.kill('SIGKILL');
  await new Promise((resolve) => owner.once('exit', resolve));
  assert.ok(statSync(path).isSocket(), 'the stale socket file stays');
  const fresh = await startPool({ workers: 1 }, fixtures);
  try {
    assert.equal((await fcgiRequest(fresh.address, counterParams(fresh.cgiBin))).status, 200);
  } finally {
    await fresh.close();
  }
});
