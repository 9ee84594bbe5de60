// Tests of the bench's checks before load: option values, script names, probe requests on real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkOptions, probe } from '../../src/bench/preflight.js';
import { listeningPort } from '../../src/bench/server-child.js';

const ok = { scripts: ['hello.sh', 'sub/x.mjs'], duration: 1, connections: 2, warmup: 0 };

test('checkOptions accepts sane options and names the bad one', () => {
  assert.equal(checkOptions(ok), null);
  assert.equal(checkOptions({ ...ok, url: 'http://127.0.0.1:8080' }), null);
  assert.match(checkOptions({ ...ok, duration: 0 }) ?? '', /--duration/);
  assert.match(checkOptions({ ...ok, connections: 1.5 }) ?? '', /--connections/);
  assert.match(checkOptions({ ...ok, warmup: -1 }) ?? '', /--warmup/);
  assert.match(checkOptions({ ...ok, workers: 0 }) ?? '', /--workers/);
  assert.match(checkOptions({ ...ok, url: 'nope' }) ?? '', /--url is not a URL/);
  assert.match(checkOptions({ ...ok, url: 'https://x' }) ?? '', /http:\/\//);
  for (const bad of ['../etc/passwd', '/bin/sh', 'a//b', 'a/./b', '']) {
    assert.match(checkOptions({ ...ok, scripts: [bad] }) ?? '', /bad script name/, bad);
  }
});

test('listeningPort reads the server log line and nothing else', () => {
  assert.equal(listeningPort('{"level":40,"msg":"listening","port":41234,"address":"127.0.0.1"}'), 41234);
  assert.equal(listeningPort('{"msg":"listening","port":0}'), null);
  assert.equal(listeningPort('{"msg":"other","port":5}'), null);
  assert.equal(listeningPort('listening on 5'), null);
  assert.equal(listeningPort('{broken'), null);
});

async function withServer(fn: (base: string) => Promise<void>): Promise<void> {
  const server: Server = createServer((req, res) => {
    res.statusCode = req.url === '/missing' ? 404 : req.url === '/broken' ? 500 : 200;
    res.end('x');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

test('probe: 404 is an unknown script, 500 is left to the load, refused is a runtime failure', { timeout: 20000 }, async () => {
  await withServer(async (base) => {
    assert.equal(await probe(`${base}/cgi-bin/ok`, 'ok'), null);
    assert.equal(await probe(`${base}/broken`, 'broken'), null);
    const missing = await probe(`${base}/missing`, 'nope.sh');
    assert.equal(missing?.code, 2);
    assert.match(missing?.message ?? '', /unknown script "nope\.sh"/);
    assert.equal((await probe(`${base}/missing`, null))?.code, 2);
  });
  // A port that was just closed: nothing listens there.
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  const refused = await probe(`http://127.0.0.1:${port}/`, null, 3000);
  assert.equal(refused?.code, 1);
  assert.match(refused?.message ?? '', /cannot reach/);
});
