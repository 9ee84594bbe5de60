// Refused connects: a pool between two generations of workers is waited for, not blacked out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { createFastcgiClient } from '../../src/fastcgi/client.js';
import { createResponder } from '../../src/fastcgi/server.js';
import { isFastcgiError } from '../../src/fastcgi/errors.js';

const log = pino({ level: 'silent' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port nobody listens on (yet). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts a responder on `port` (the one that refused until now). */
async function listenOn(port: number): Promise<{ close(): Promise<void> }> {
  const responder = createResponder({
    log,
    onRequest(r) {
      r.stdout.write('Content-Type: text/plain\r\n\r\nback\n');
      r.end();
    },
  });
  const server = net.createServer();
  responder.attach(server);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      await responder.close(1000);
      await closed;
    },
  };
}

async function text(res: Awaited<ReturnType<ReturnType<typeof createFastcgiClient>['request']>>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of res.stdout) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

test('a single upstream that refuses is retried with a short back-off: requests during the gap succeed', { timeout: 15_000 }, async () => {
  const port = await closedPort();
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${port}`], log, connectTimeoutMs: 3000 });
  let peer: { close(): Promise<void> } | null = null;
  try {
    const t0 = performance.now();
    const during = [client.request({ params: {}, body: null }), client.request({ params: {}, body: null })];
    await sleep(300);
    assert.equal(client.stats().queued, 2, 'the requests wait for the upstream, they do not fail');
    peer = await listenOn(port);
    const up = performance.now();
    for (const res of await Promise.all(during)) assert.match(await text(res), /back/);
    // Back-off at most 500 ms between tries: served well before the 3 s connect budget.
    assert.ok(performance.now() - up < 1000, `served ${(performance.now() - up).toFixed(0)} ms after the upstream listened`);
    assert.ok(performance.now() - t0 >= 300);
    assert.equal(client.stats().upstreams[0]?.down, false);
  } finally {
    await client.close();
    await peer?.close();
  }
});

test('a refused upstream fails the request after the connect timeout, not at once and not never', { timeout: 15_000 }, async () => {
  const port = await closedPort();
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${port}`], log, connectTimeoutMs: 400 });
  try {
    const t0 = performance.now();
    await assert.rejects(client.request({ params: {}, body: null }), (e: unknown) => isFastcgiError(e) && e.code === 'FCGI_CONNECT_REFUSED' && e.errorCode === 'FF_UPSTREAM_FAILED');
    const ms = performance.now() - t0;
    assert.ok(ms >= 390 && ms < 3000, `failed after ${ms.toFixed(0)} ms`);
    assert.equal(client.stats().queued, 0);
  } finally {
    await client.close();
  }
});

test('upstreamReady() ends the back-off: a waiting request goes at once', { timeout: 15_000 }, async () => {
  const port = await closedPort();
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${port}`], log, connectTimeoutMs: 5000 });
  let peer: { close(): Promise<void> } | null = null;
  try {
    const pending = client.request({ params: {}, body: null });
    await sleep(1200); // the back-off has grown to its 500 ms ceiling
    peer = await listenOn(port);
    const t = performance.now();
    client.upstreamReady();
    assert.match(await text(await pending), /back/);
    assert.ok(performance.now() - t < 250, `served ${(performance.now() - t).toFixed(0)} ms after upstreamReady()`);
  } finally {
    await client.close();
    await peer?.close();
  }
});

test('two upstreams both refusing: the one down longest is retried, and serves once it is back', { timeout: 15_000 }, async () => {
  const [a, b] = [await closedPort(), await closedPort()];
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${a}`, `127.0.0.1:${b}`], log, connectTimeoutMs: 4000, downForMs: 5000 });
  let peer: { close(): Promise<void> } | null = null;
  try {
    const pending = client.request({ params: {}, body: null });
    await sleep(300);
    assert.ok(client.stats().upstreams.every((u) => u.down), 'both marked down');
    peer = await listenOn(a);
    const t = performance.now();
    const res = await pending;
    assert.match(await text(res), /back/);
    assert.equal(res.upstream, `127.0.0.1:${a}`);
    assert.ok(performance.now() - t < 1000, `served ${(performance.now() - t).toFixed(0)} ms after it listened, although marked down for 5 s`);
  } finally {
    await client.close();
    await peer?.close();
  }
});
