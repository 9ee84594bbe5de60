// The request line over raw sockets: absolute form served (RFC 9112 §3.2.2), bad versions and spacing refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest } from '../helpers/raw-http.js';
import { startServer } from '../helpers/server.js';

test('an absolute-form request is served, with the target authority as Host', async (t) => {
  const s = await startServer();
  t.after(() => s.stop());
  const r = await rawRequest(s.port, 'GET http://example.org:81/cgi-bin/env.sh?a=1 HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n');
  assert.equal(r.status, 200);
  const env = r.body.toString();
  assert.match(env, /^HTTP_HOST=example\.org:81$/m);
  assert.match(env, /^SERVER_NAME=example\.org$/m);
  assert.match(env, /^SERVER_PORT=81$/m);
  assert.match(env, /^REQUEST_URI=\/cgi-bin\/env\.sh\?a=1$/m);
  assert.match(env, /^QUERY_STRING=a=1$/m);
  assert.doesNotMatch(env, /other\.test/);
  const line = await s.waitForLog((l) => l['msg'] === 'request' && l['reqId'] === r.headers['x-request-id']);
  assert.equal(line['path'], '/cgi-bin/env.sh?a=1');
});

test('HTTP/2.0 and HTTP/0.9 request lines get 505, HTTP/1.0 is served', async (t) => {
  const s = await startServer();
  t.after(() => s.stop());
  assert.equal((await rawRequest(s.port, 'GET /cgi-bin/hello.sh HTTP/2.0\r\nHost: x\r\n\r\n')).status, 505);
  assert.equal((await rawRequest(s.port, 'GET /cgi-bin/hello.sh HTTP/3.0\r\nHost: x\r\n\r\n')).status, 505);
  assert.equal((await rawRequest(s.port, 'GET /cgi-bin/hello.sh\r\n\r\n')).status, 505);
  assert.equal((await rawRequest(s.port, 'GET /cgi-bin/hello.sh HTTP/1.0\r\n\r\n')).status, 200);
  const logged = await s.waitForLog((l) => l['msg'] === 'malformed request' && l['code'] === 'FF_HTTP_VERSION_NOT_SUPPORTED');
  assert.equal(logged['level'], 40);
});

test('a request line with runs of spaces gets 400, also when pipelined behind a good one', async (t) => {
  const s = await startServer();
  t.after(() => s.stop());
  assert.equal((await rawRequest(s.port, 'GET  /cgi-bin/hello.sh HTTP/1.1\r\nHost: x\r\n\r\n')).status, 400);
  assert.equal((await rawRequest(s.port, 'GET /cgi-bin/hello.sh  HTTP/1.1\r\nHost: x\r\n\r\n')).status, 400);
  const pair = await rawRequest(s.port, 'GET /cgi-bin/hello.sh HTTP/1.1\r\nHost: x\r\n\r\nGET  /cgi-bin/env.sh HTTP/1.1\r\nHost: x\r\n\r\n');
  const statuses = [...pair.raw.toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [200, 400]);
  // The strict line is served as before.
  assert.equal((await rawRequest(s.port, 'GET /cgi-bin/hello.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status, 200);
});

test('no Host or two Host headers in HTTP/1.1 get 400 with a log line', async (t) => {
  const s = await startServer();
  t.after(() => s.stop());
  assert.equal((await rawRequest(s.port, 'GET / HTTP/1.1\r\n\r\n')).status, 400);
  assert.equal((await rawRequest(s.port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')).status, 400);
  await s.waitForLog((l) => l['msg'] === 'malformed request' && l['reason'] === 'more than one Host header');
  await s.waitForLog((l) => l['msg'] === 'malformed request' && l['reason'] === 'an HTTP/1.1 request without Host');
});
