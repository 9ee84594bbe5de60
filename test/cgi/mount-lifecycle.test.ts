// Integration tests of children's lives at /cgi-bin/: timeouts, disconnects (pid proven gone), load, keep-alive, IPv6, overload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, Agent } from 'node:http';
import { createServer } from 'node:net';
import { rawRequest } from '../helpers/raw-http.js';
import { startHarness, fetchRaw, alive, eventually, type Harness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness({ limits: { timeoutMs: 1500, idleTimeoutMs: 800 } });
});
after(async () => {
  await h.close();
});

const T = { timeout: 30_000 };

function pidFromLogs(reqId: unknown): number {
  const line = h.logs().find((l) => l['reqId'] === reqId && l['msg'] === 'script stderr' && String(l['line']).startsWith('pid='));
  return Number(String(line?.['line'] ?? 'pid=0').slice(4));
}

test('lifecycle: no headers before the timeout gives 504, and the child is gone', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?hang-before');
  assert.equal(r.status, 504);
  const pid = pidFromLogs(r.headers['x-request-id']);
  assert.ok(pid > 0, 'the fixture reported its pid on stderr');
  assert.ok(await eventually(() => !alive(pid)), `pid ${pid} still alive`);
  assert.ok(h.logs().some((l) => l['reqId'] === r.headers['x-request-id'] && l['msg'] === 'script timed out before its headers'));
});

test('lifecycle: silence after the headers (idle timeout) aborts the response instead of ending it as complete', T, async () => {
  let pid = 0;
  const outcome = await new Promise<string>((resolve) => {
    const req = httpRequest({ port: h.port, host: '127.0.0.1', path: '/cgi-bin/test.cgi?idle', agent: false }, (res) => {
      res.on('data', (c: Buffer) => {
        const m = /pid=(\d+)/.exec(c.toString());
        if (m) pid = Number(m[1]);
      });
      res.on('end', () => resolve('ended'));
      res.on('error', () => resolve('aborted'));
      res.on('aborted', () => resolve('aborted'));
    });
    req.on('error', () => resolve('aborted'));
    req.end();
  });
  assert.equal(outcome, 'aborted');
  assert.ok(pid > 0);
  assert.ok(await eventually(() => !alive(pid)), `pid ${pid} still alive`);
});

test('lifecycle: a client that disconnects gets its child killed (Go TestCopyError)', T, async () => {
  const pid = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ port: h.port, host: '127.0.0.1', path: '/cgi-bin/test.cgi?pid-hang', agent: false }, (res) => {
      res.once('data', (c: Buffer) => {
        const m = /pid=(\d+)/.exec(c.toString());
        req.destroy();
        if (m) resolve(Number(m[1]));
        else reject(new Error('no pid'));
      });
    });
    req.on('error', () => undefined);
    req.end();
  });
  assert.ok(await eventually(() => !alive(pid), 5000), `pid ${pid} still alive after the disconnect`);
});

test('lifecycle: an 8 MiB response streams through whole', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?big');
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 8 * 1024 * 1024);
  assert.ok(r.body.every((b) => b === 0x62));
});

test('lifecycle: a 1 GiB response does not sit in memory: a paused client stalls the script (backpressure)', T, async () => {
  const rssBefore = process.memoryUsage().rss;
  let pid = 0;
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest({ port: h.port, host: '127.0.0.1', path: '/cgi-bin/test.cgi?huge', agent: false }, (res) => {
      pid = Number(res.headers['x-child-pid']);
      res.once('data', (c: Buffer) => {
        received += c.length;
        res.pause();
        // Hold the client still for a while: the server must not buffer the script's output.
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 1500);
      });
    });
    req.on('error', () => undefined);
    req.setTimeout(10_000, () => reject(new Error('no response')));
    req.end();
  });
  const grown = process.memoryUsage().rss - rssBefore;
  assert.ok(received > 0);
  assert.ok(grown < 128 * 1024 * 1024, `rss grew by ${grown} bytes`);
  assert.ok(pid > 0);
  assert.ok(await eventually(() => !alive(pid), 5000), `pid ${pid} still alive`);
});

test('lifecycle: 200 requests at 16 at a time are all correct', T, async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    let next = 0;
    const pids = new Set<number>();
    const worker = async (): Promise<void> => {
      while (next < 200) {
        next++;
        const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?pid', { agent });
        assert.equal(r.status, 200);
        const m = /^pid=(\d+)\n$/.exec(r.text);
        assert.ok(m, r.text);
        pids.add(Number(m[1]));
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    assert.equal(pids.size, 200, 'one child per request');
  } finally {
    agent.destroy();
  }
});

test('lifecycle: 100 requests on one keep-alive connection, across every normal response form', T, async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<unknown>();
  try {
    const modes = ['pid', 'status', 'client-redirect', 'local-redirect', 'no-type', 'cl-exact', 'cl-long', 'status-204', 'lf-only', 'multi'];
    for (let i = 0; i < 100; i++) {
      const mode = modes[i % modes.length] as string;
      // HEAD only where a Content-Length frames it: node's own client drops the connection after a
      // HEAD response without one (its parser's quirk); the raw HEAD test below covers the server.
      const method = mode === 'cl-exact' && i % 2 === 0 ? 'HEAD' : i % 3 === 0 ? 'POST' : 'GET';
      const r = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ port: h.port, host: '127.0.0.1', path: `/cgi-bin/test.cgi?${mode}`, method, agent }, (res) => {
          sockets.add(res.socket);
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(method === 'POST' ? 'x=1' : undefined);
      });
      assert.ok(r >= 200 && r < 500, `${mode} ${method}: ${r}`);
    }
    assert.equal(sockets.size, 1, 'every response kept the connection alive');
  } finally {
    agent.destroy();
  }
});

test('lifecycle: pipelined HEAD requests without Content-Length are answered on one connection', T, async () => {
  const one = 'HEAD /cgi-bin/test.cgi?pid HTTP/1.1\r\nHost: x\r\n\r\n';
  const r = await rawRequest(h.port, one + one + one.replace('HTTP/1.1\r\n', 'HTTP/1.1\r\nConnection: close\r\n'), 10_000);
  const text = r.raw.toString('latin1');
  assert.equal(text.split('HTTP/1.1 200 OK').length - 1, 3);
  assert.ok(!text.includes('pid='), 'no body for HEAD');
});

test('lifecycle: a header too large for execve gives 431, not a crash', T, async () => {
  const wide = await startHarness({ maxHeaderSize: 512 * 1024 });
  try {
    const r = await fetchRaw(wide.port, '/cgi-bin/test.cgi?pid', { headers: { 'X-Huge': 'x'.repeat(200 * 1024) } });
    assert.equal(r.status, 431);
    const ok = await fetchRaw(wide.port, '/cgi-bin/test.cgi?pid');
    assert.equal(ok.status, 200, 'the server still answers');
  } finally {
    await wide.close();
  }
});

async function ipv6Available(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

test('lifecycle: an IPv6 peer: REMOTE_ADDR, SERVER_NAME and SERVER_PORT from [::1]:port', T, async (t) => {
  if (!(await ipv6Available())) {
    t.skip('no IPv6 loopback on this machine');
    return;
  }
  const h6 = await startHarness({ host: '::1' });
  try {
    const r = await fetchRaw(h6.port, '/cgi-bin/test.cgi', { host: '::1' });
    const env = Object.fromEntries(r.text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.equal(env['REMOTE_ADDR'], '::1');
    assert.equal(env['SERVER_ADDR'], '::1');
    assert.equal(env['SERVER_NAME'], '[::1]');
    assert.equal(env['SERVER_PORT'], String(h6.port));
  } finally {
    await h6.close();
  }
});

test('lifecycle: over the child limit and a full queue: 503 with Retry-After', T, async () => {
  const small = await startHarness({ maxChildren: 1, queueSize: 0, limits: { timeoutMs: 1000 } });
  const agent = new Agent({ keepAlive: false });
  try {
    const first = fetchRaw(small.port, '/cgi-bin/test.cgi?hang-before', { agent });
    await eventually(() => small.logs().some((l) => l['msg'] === 'script stderr'), 5000);
    const r = await fetchRaw(small.port, '/cgi-bin/test.cgi?pid', { agent });
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '1');
    assert.equal((await first).status, 504);
  } finally {
    agent.destroy();
    await small.close();
  }
});
