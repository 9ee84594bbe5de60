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
  const body = (await r.json()) as { http: { inFlight: number } };
  assert.equal(typeof body.http.inFlight, 'number');
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
