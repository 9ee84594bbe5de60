// `forkfast serve`: the same failing script gets the same status, body and log line on every mount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw-http.js';

const PROGRAMS: Record<string, string> = {
  // Writes nothing and exits 3.
  'exit3.cgi': '#!/bin/sh\nexit 3\n',
  // Closes stdout without a word and goes on running.
  'closed.cgi': '#!/bin/sh\necho $$ >> "$PWD/pids"\nexec 1>&-\nexec sleep 30\n',
  // A whole answer, then stdout closed, then it goes on running.
  'answered.cgi': '#!/bin/sh\necho $$ >> "$PWD/pids"\nprintf "Content-Type: text/plain\\r\\n\\r\\nanswered\\n"\nexec 1>&-\nexec sleep 30\n',
  // Answers, leaves a grandchild in a session of its own holding stdout and stderr, and exits.
  'grandchild.cgi': '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\nbye\\n"\nsetsid sleep 30 &\necho $! >> "$PWD/pids"\nexit 0\n',
  'noisy.cgi': '#!/bin/sh\necho "noisy-line-$QUERY_STRING" >&2\nprintf "Content-Type: text/plain\\r\\n\\r\\nok\\n"\n',
};
const MODULES: Record<string, string> = {
  'hang.mjs': 'export default () => new Promise(() => {});\n',
  'throw.mjs': "export default () => { throw new Error('thrown on purpose'); };\n",
  'hello.mjs': "export default () => new Response('hello\\n');\n",
};

let dir = '';
let server: RunningServer;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ff-gateway-test-'));
  const cgiBin = join(dir, 'cgi-bin');
  mkdirSync(cgiBin);
  mkdirSync(join(dir, 'public'));
  for (const [name, text] of Object.entries(PROGRAMS)) {
    writeFileSync(join(cgiBin, name), text);
    chmodSync(join(cgiBin, name), 0o755);
  }
  for (const [name, text] of Object.entries(MODULES)) writeFileSync(join(cgiBin, name), text);
  server = await startServer(['--cgi-bin', cgiBin, '--public', join(dir, 'public'), '--workers', '1', '--cgi-timeout', '5'], { cwd: dir, timeoutMs: 20_000 });
});

test.after(async () => {
  await server?.stop();
  // The programs that outlive their answer on purpose.
  try {
    for (const pid of readFileSync(join(dir, 'cgi-bin', 'pids'), 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
  } catch {
    // none ran
  }
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, method = 'GET') => rawRequest(server.port, `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 10_000);

test('a program that exits 3 without output: the same 502 and message under /cgi-bin/ and /fcgi-bin/', { timeout: 30_000 }, async () => {
  for (const mount of ['/cgi-bin/', '/fcgi-bin/']) {
    const r = await get(`${mount}exit3.cgi`);
    assert.equal(r.status, 502, mount);
    assert.match(r.body.toString(), /ended without writing a response/, mount);
    const id = r.headers['x-request-id'];
    assert.match(r.body.toString(), new RegExp(`request-id: ${id}`), `${mount}: the body names the request id`);
    const line = await server.waitForLog((l) => l['msg'] === 'script ended without writing a response' && l['reqId'] === id, 5000);
    assert.equal(line['exitCode'], 3, mount);
  }
});

test('a stderr line of a /fcgi-bin/ program is logged once, as `line`', { timeout: 30_000 }, async () => {
  const r = await get('/fcgi-bin/noisy.cgi?once');
  assert.equal(r.status, 200);
  await server.waitForLog((l) => l['line'] === 'noisy-line-once', 5000);
  // Give a second copy (the front's) time to arrive before counting.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const lines = server.logs().filter((l) => JSON.stringify(l).includes('noisy-line-once'));
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0]?.['msg'], 'script stderr');
});

test('/cgi-bin/hang.mjs: a handler that never settles is named in the status and the log', { timeout: 30_000 }, async () => {
  const r = await get('/cgi-bin/hang.mjs');
  assert.equal(r.status, 500);
  assert.match(r.body.toString(), /never settled/);
  const id = r.headers['x-request-id'];
  await server.waitForLog((l) => l['reqId'] === id && /never settled/.test(String(l['line'])), 5000);
});

test('the worker\'s "handler threw" line carries the front\'s reqId; /fcgi-bin/ error bodies name it', { timeout: 30_000 }, async () => {
  const r = await get('/fcgi-bin/throw.mjs');
  assert.equal(r.status, 500);
  const id = r.headers['x-request-id'];
  assert.ok(id);
  assert.match(r.body.toString(), new RegExp(`request-id: ${id}\\n`));
  const line = await server.waitForLog((l) => l['msg'] === 'handler threw' && l['reqId'] === id, 5000);
  assert.match(String((line['err'] as { stack?: string }).stack), /thrown on purpose\n\s+at /);
});

test('TRACE to a handler module is 501 on both mounts, never a 500 from a TypeError', { timeout: 30_000 }, async () => {
  for (const mount of ['/cgi-bin/', '/fcgi-bin/']) {
    const r = await get(`${mount}hello.mjs`, 'TRACE');
    assert.equal(r.status, 501, `${mount}: ${r.body.toString()}`);
  }
  assert.equal(server.logs().filter((l) => l['msg'] === 'handler threw' && String(l['script']).endsWith('hello.mjs')).length, 0);
});

test('no child slot (queue full): 503 with Retry-After at the front and in the pool alike', { timeout: 60_000 }, async () => {
  const own = mkdtempSync(join(tmpdir(), 'ff-gateway-full-'));
  const cgiBin = join(own, 'cgi-bin');
  mkdirSync(cgiBin);
  mkdirSync(join(own, 'public'));
  writeFileSync(join(cgiBin, 'sleep.cgi'), '#!/bin/sh\nsleep 2\nprintf "Content-Type: text/plain\\r\\n\\r\\nslept\\n"\n');
  chmodSync(join(cgiBin, 'sleep.cgi'), 0o755);
  const full = await startServer(['--cgi-bin', cgiBin, '--public', join(own, 'public'), '--workers', '1', '--max-children', '1', '--queue-size', '0'], { cwd: own, timeoutMs: 20_000 });
  try {
    for (const mount of ['/cgi-bin/', '/fcgi-bin/']) {
      const held = rawRequest(full.port, `GET ${mount}sleep.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const r = await rawRequest(full.port, `GET ${mount}sleep.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 10_000);
      assert.equal(r.status, 503, mount);
      assert.equal(r.headers['retry-after'], '1', mount);
      assert.equal((await held).status, 200, mount);
    }
  } finally {
    await full.stop();
    rmSync(own, { recursive: true, force: true });
  }
});

test('a malformed chunked request body is answered 400 on both mounts, and the access log says 400', { timeout: 30_000 }, async () => {
  for (const mount of ['/cgi-bin/', '/fcgi-bin/']) {
    const r = await rawRequest(server.port, `POST ${mount}hello.mjs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\nxx\r\n0\r\n\r\n`, 10_000);
    assert.equal(r.status, 400, mount);
    const id = r.headers['x-request-id'];
    const access = await server.waitForLog((l) => l['msg'] === 'request' && l['reqId'] === id, 5000);
    assert.equal(access['status'], 400, mount);
    assert.equal(access['completed'], true, mount);
  }
});

test('an unread 50 MB body under /fcgi-bin/ is drained: the 200 arrives and the connection is not reset', { timeout: 60_000 }, async () => {
  const size = 50 * 1024 * 1024;
  const { connect } = await import('node:net');
  const outcome = await new Promise<{ head: string; error: string | null }>((resolve) => {
    const socket = connect(server.port, '127.0.0.1');
    let got = '';
    let error: string | null = null;
    const timer = setTimeout(() => socket.destroy(), 30_000);
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      // The whole answer (hello.mjs: a short body with a Content-Length) and the body fully sent.
      if (/\r\n\r\nhello\n$/.test(got) && socket.bytesWritten >= size) socket.end();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ head: got, error });
    });
    socket.write(`POST /fcgi-bin/hello.mjs HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
    const chunk = Buffer.alloc(1024 * 1024, 0x78);
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    pump();
  });
  assert.equal(outcome.error, null, 'no reset');
  assert.match(outcome.head, /^HTTP\/1\.1 200 /);
});

test('the answer ends with the script, not with its last descendant or a late exit: the same on both mounts', { timeout: 60_000 }, async () => {
  const cases: Array<[string, number, RegExp]> = [
    ['closed.cgi', 502, /ended without writing a response/],
    ['answered.cgi', 200, /answered\n/],
    ['grandchild.cgi', 200, /bye\n/],
  ];
  for (const [name, status, body] of cases) {
    for (const mount of ['/cgi-bin/', '/fcgi-bin/']) {
      const started = Date.now();
      const r = await get(`${mount}${name}`);
      const ms = Date.now() - started;
      assert.equal(r.status, status, `${mount}${name}`);
      assert.match(r.body.toString(), body, `${mount}${name}`);
      // Far below --cgi-timeout (5 s) and the 30 s the programs sleep.
      assert.ok(ms < 2500, `${mount}${name} took ${ms} ms`);
    }
  }
});
