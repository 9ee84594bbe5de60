// The HTTP front over real sockets: limits, malformed requests, request ids, access log, graceful stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { rawRequest } from '../helpers/raw-http.js';
import { startServer } from '../helpers/server.js';

test('a malformed request line gets 400 and the server keeps serving', async (t) => {
  const s = await startServer();
  t.after(() => s.stop());
  const bad = await rawRequest(s.port, 'GARBAGE\r\n\r\n');
  assert.equal(bad.status, 400);
  const bad2 = await rawRequest(s.port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
  assert.equal(bad2.status, 400);
  await s.waitForLog((l) => l['msg'] === 'malformed request');
  const ok = await fetch(`${s.url}/-/status`);
  assert.equal(ok.status, 200);
});

test('headers over the limit get 431', async (t) => {
  const s = await startServer(['--max-header-size', '4k']);
  t.after(() => s.stop());
  const r = await rawRequest(s.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
  assert.equal(r.status, 431);
  const ok = await fetch(`${s.url}/-/status`);
  assert.equal(ok.status, 200);
});

test('a declared body over the limit gets 413 before the route runs', async (t) => {
  const s = await startServer(['--max-body-size', '1k']);
  t.after(() => s.stop());
  const r = await rawRequest(s.port, 'POST /cgi-bin/hello.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n');
  assert.equal(r.status, 413);
});

test('every response carries a request id and gets one access log line', async (t) => {
  const s = await startServer();
  t.after(() => s.stop());
  const r = await fetch(`${s.url}/-/status?format=json`);
  const id = r.headers.get('x-request-id');
  assert.ok(id);
  const body = (await r.json()) as { http: { 'in flight': number } };
  assert.equal(typeof body.http['in flight'], 'number');
  const line = await s.waitForLog((l) => l['msg'] === 'request' && l['reqId'] === id);
  assert.equal(line['status'], 200);
  assert.equal(line['method'], 'GET');
  assert.equal(line['route'], 'ops');
  assert.equal(typeof line['durationMs'], 'number');
  assert.ok(Number(line['bytes']) > 0);
});

test('error bodies are short and carry no stack', async (t) => {
  const s = await startServer();
  t.after(() => s.stop());
  const r = await rawRequest(s.port, 'GET /-/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(r.status, 404);
  assert.match(r.body.toString(), /^404 Not Found\nrequest-id: \S+\n$/);
});

test('SIGTERM with an idle keep-alive connection: exits 0 promptly', async (t) => {
  const s = await startServer();
  t.after(() => s.stop('SIGKILL'));
  const sock = connect(s.port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write('GET /-/status HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise<void>((r) => sock.once('data', () => r()));
  const started = Date.now();
  const code = await s.stop('SIGTERM');
  assert.equal(code, 0);
  assert.ok(Date.now() - started < 5000, 'an idle keep-alive connection must not hold the stop');
  sock.destroy();
});

const fixtures = ['--cgi-bin', 'test/fixtures/cgi-bin'];

test('SIGTERM lets an in-flight request finish, refuses new connections, exits 0', async (t) => {
  const s = await startServer(fixtures);
  t.after(() => s.stop('SIGKILL'));
  const inflight = fetch(`${s.url}/cgi-bin/test.cgi?slow`);
  await new Promise((r) => setTimeout(r, 300));
  s.proc.kill('SIGTERM');
  await s.waitForLog((l) => String(l['msg']).startsWith('stopping'));
  await assert.rejects(rawRequest(s.port, 'GET /-/status HTTP/1.1\r\nHost: x\r\n\r\n'), 'a new connection is refused while draining');
  const res = await inflight;
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'slow-done\n');
  assert.equal(await s.exited(), 0);
  await assert.rejects(fetch(`${s.url}/-/status`), 'nothing listens after the stop');
});

test('past the shutdown deadline the request is cut, its child killed, exit 0 (the stop asked for)', async (t) => {
  const s = await startServer([...fixtures, '--shutdown-timeout', '0.5']);
  t.after(() => s.stop('SIGKILL'));
  const res = await fetch(`${s.url}/cgi-bin/test.cgi?pid-hang`);
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  const pid = Number(/pid=(\d+)/.exec(first)?.[1]);
  assert.ok(pid > 0);
  const code = await s.stop('SIGTERM');
  assert.equal(code, 0);
  await reader.read().catch(() => undefined);
  assert.throws(() => process.kill(pid, 0), 'the child is gone');
});

test('a second signal stops at once', async (t) => {
  const s = await startServer(fixtures);
  t.after(() => s.stop('SIGKILL'));
  const res = await fetch(`${s.url}/cgi-bin/test.cgi?pid-hang`);
  void res.body?.cancel().catch(() => undefined);
  const started = Date.now();
  s.proc.kill('SIGTERM');
  await s.waitForLog((l) => String(l['msg']).startsWith('stopping'));
  s.proc.kill('SIGINT');
  const code = await s.stop();
  assert.notEqual(code, 0);
  assert.ok(Date.now() - started < 5000);
});

test('slowloris: a request head not finished within --headers-timeout gets 408 and is closed', async (t) => {
  const s = await startServer(['--headers-timeout', '1']);
  t.after(() => s.stop());
  const started = Date.now();
  const r = await rawRequest(s.port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ', 8000);
  assert.equal(r.status, 408);
  assert.ok(Date.now() - started < 6000, 'closed soon after the deadline');
  const ok = await fetch(`${s.url}/-/status`);
  assert.equal(ok.status, 200);
});
