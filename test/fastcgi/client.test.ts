// Our FastCGI client against our responder: multiplexing, big bodies, abort, retry, refused upstreams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { pino } from 'pino';
import { createFastcgiClient, type FastcgiClient } from '../../src/fastcgi/client.js';
import { isFastcgiError } from '../../src/fastcgi/errors.js';
import { listenResponder } from './helpers.js';
import { createResponder } from '../../src/fastcgi/server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FCGI_GET_VALUES, FCGI_STDOUT, encodeRecord } from '../../src/fastcgi/protocol.js';

const log = pino({ level: 'silent' });

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Echo handler: writes params and the body back; MODE=big writes SIZE bytes honouring backpressure. */
async function echo(r: import('../../src/fastcgi/server.js').ResponderRequest): Promise<void> {
  const mode = r.params.get('MODE');
  if (mode === 'big') {
    const size = Number(r.params.get('SIZE'));
    const chunk = Buffer.alloc(32 * 1024, 'z');
    r.stdout.write('Content-Type: application/octet-stream\r\n\r\n');
    for (let sent = 0; sent < size && !r.aborted; sent += chunk.length) {
      if (!r.stdout.write(chunk)) await once(r.stdout, 'drain');
    }
    r.end();
    return;
  }
  if (mode === 'slow') await new Promise((res) => setTimeout(res, 30));
  const body = await readAll(r.stdin);
  r.writeStderr('note from the app\n');
  r.stdout.write(`Content-Type: text/plain\r\nX-Q: ${r.params.get('QUERY_STRING') ?? ''}\r\n\r\n`);
  r.stdout.write(body);
  r.end(Number(r.params.get('APP_STATUS') ?? 0));
}

test('request: params, a 200000-byte body both ways, stderr, appStatus', { timeout: 15_000 }, async () => {
  const l = await listenResponder({ onRequest: echo });
  const stderr: string[] = [];
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${l.port}`], log });
  try {
    const body = Buffer.alloc(200_000);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    const res = await client.request({ params: { QUERY_STRING: 'a=1', APP_STATUS: '7' }, body: Readable.from([body.subarray(0, 70_000), body.subarray(70_000)]), onStderr: (c) => stderr.push(c.toString()) });
    const out = await readAll(res.stdout);
    const head = 'Content-Type: text/plain\r\nX-Q: a=1\r\n\r\n';
    assert.equal(out.subarray(0, head.length).toString(), head);
    assert.ok(out.subarray(head.length).equals(body));
    assert.deepEqual(await res.ended, { appStatus: 7, protocolStatus: 0 });
    assert.deepEqual(stderr, ['note from the app\n']);
  } finally {
    await client.close();
    await l.close();
  }
});

test('100 concurrent requests are multiplexed on one connection', { timeout: 15_000 }, async () => {
  let active = 0;
  let maxActive = 0;
  const l = await listenResponder({
    async onRequest(r) {
      active++;
      maxActive = Math.max(maxActive, active);
      await echo(r);
      active--;
    },
  });
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${l.port}`], log, maxConnsPerUpstream: 1 });
  try {
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const res = await client.request({ params: [['QUERY_STRING', `i=${i}`], ['MODE', 'slow']], body: null });
        return (await readAll(res.stdout)).toString();
      }),
    );
    results.forEach((text, i) => assert.match(text, new RegExp(`X-Q: i=${i}\\r\\n`)));
    assert.ok(maxActive > 50, `only ${maxActive} requests overlapped`);
    // One probe connection (GET_VALUES) plus one connection for all 100 requests.
    assert.equal(l.responder.stats().connectionsTotal, 2);
    assert.equal(client.stats().upstreams[0]?.mpxs, true);
  } finally {
    await client.close();
    await l.close();
  }
});

test('abort in the middle of a large response: ABORT_REQUEST reaches the handler, the connection stays usable', { timeout: 15_000 }, async () => {
  let handlerSawAbort: Promise<void> | null = null;
  const l = await listenResponder({
    onRequest(r) {
      if (r.params.get('MODE') === 'big') handlerSawAbort = once(r.signal, 'abort').then(() => undefined);
      return echo(r);
    },
  });
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${l.port}`], log, maxConnsPerUpstream: 1 });
  try {
    const ac = new AbortController();
    const res = await client.request({ params: { MODE: 'big', SIZE: String(50 * 1024 * 1024) }, body: null, signal: ac.signal });
    let got = 0;
    const errored = new Promise<unknown>((resolve) => res.stdout.on('error', resolve));
    res.stdout.on('data', (c: Buffer) => {
      got += c.length;
      if (got > 1024 * 1024 && !ac.signal.aborted) ac.abort();
    });
    const err = await errored;
    assert.ok(isFastcgiError(err) && err.code === 'FCGI_ABORTED');
    await assert.rejects(res.ended, { code: 'FCGI_ABORTED' });
    assert.ok(handlerSawAbort !== null);
    await handlerSawAbort;
    assert.ok(got < 50 * 1024 * 1024);
    const again = await client.request({ params: { QUERY_STRING: 'after' }, body: null });
    assert.match((await readAll(again.stdout)).toString(), /X-Q: after/);
    assert.equal(l.responder.stats().connectionsTotal, 2);
    assert.equal(client.stats().inFlight, 0);
  } finally {
    await client.close();
    await l.close();
  }
});

test('refused upstream: typed error (502) and the upstream is skipped while another serves', { timeout: 15_000 }, async () => {
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadPort = (dead.address() as net.AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const alone = createFastcgiClient({ upstreams: [`127.0.0.1:${deadPort}`], log });
  await assert.rejects(alone.request({ params: {}, body: null }), (e: unknown) => isFastcgiError(e) && e.code === 'FCGI_CONNECT_REFUSED' && e.errorCode === 'FF_UPSTREAM_FAILED');
  await alone.close();

  const l = await listenResponder({ onRequest: echo });
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${deadPort}`, `127.0.0.1:${l.port}`], log });
  try {
    let ok = 0;
    for (let i = 0; i < 6; i++) {
      try {
        const res = await client.request({ params: {}, body: null });
        await readAll(res.stdout);
        ok++;
      } catch (e) {
        assert.ok(isFastcgiError(e) && e.code === 'FCGI_CONNECT_REFUSED');
      }
    }
    assert.ok(ok >= 5, `${ok} of 6 succeeded`);
    assert.equal(client.stats().upstreams[0]?.down, true);
  } finally {
    await client.close();
    await l.close();
  }
});

test('a kept-alive connection closed by the server is retried once on a fresh connection', { timeout: 15_000 }, async () => {
  let conns = 0;
  const l = await listenResponder({ onRequest: echo });
  // A proxy in front of the responder that kills the second connection on its second request.
  const proxy = net.createServer((down) => {
    const n = ++conns;
    let chunks = 0;
    const up = net.connect(l.port, '127.0.0.1');
    up.on('error', () => down.destroy());
    down.on('error', () => up.destroy());
    up.pipe(down);
    down.on('data', (c: Buffer) => {
      if (n === 2 && ++chunks === 2) {
        down.destroy();
        up.destroy();
        return;
      }
      up.write(c);
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${(proxy.address() as net.AddressInfo).port}`], log, maxConnsPerUpstream: 1 });
  try {
    const first = await client.request({ params: { QUERY_STRING: 'one' }, body: null });
    const second = await client.request({ params: { QUERY_STRING: 'two' }, body: null });
    assert.match((await readAll(second.stdout)).toString(), /X-Q: two/);
    assert.equal(conns, 3, 'probe, the reused connection, the fresh one');
    assert.equal(client.stats().inFlight, 0);
  } finally {
    await client.close();
    await new Promise<void>((r) => proxy.close(() => r()));
    await l.close();
  }
});

test('idle read timeout fails the request with FCGI_IDLE_TIMEOUT (504)', { timeout: 15_000 }, async () => {
  const l = await listenResponder({ onRequest: () => {} }); // never answers
  const client: FastcgiClient = createFastcgiClient({ upstreams: [`127.0.0.1:${l.port}`], log, idleTimeoutMs: 200 });
  try {
    await assert.rejects(client.request({ params: {}, body: null }), (e: unknown) => isFastcgiError(e) && e.code === 'FCGI_IDLE_TIMEOUT' && e.errorCode === 'FF_UPSTREAM_TIMEOUT');
  } finally {
    await client.close();
    await l.close();
  }
});

test('a connection reset in the middle of a response errors stdout with FCGI_CONN_RESET and frees the slot', { timeout: 15_000 }, async () => {
  // A fake upstream: closes the GET_VALUES probe unanswered, then answers part of a STDOUT and resets.
  const fake = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.once('data', (c: Buffer) => {
      if (c[1] === FCGI_GET_VALUES) return sock.destroy();
      const id = c.readUInt16BE(2);
      sock.write(encodeRecord(FCGI_STDOUT, id, Buffer.from('Status: 200\r\n\r\npartial')), () => setTimeout(() => sock.resetAndDestroy(), 20));
    });
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${(fake.address() as net.AddressInfo).port}`], log });
  try {
    const res = await client.request({ params: {}, body: null });
    await assert.rejects(readAll(res.stdout), { code: 'FCGI_CONN_RESET' });
    await assert.rejects(res.ended, { code: 'FCGI_CONN_RESET' });
    assert.equal(client.stats().inFlight, 0);
    assert.equal(client.stats().upstreams[0]?.mpxs, false);
  } finally {
    await client.close();
    await new Promise<void>((r) => fake.close(() => r()));
  }
});

test('unix socket upstream (unix:/path)', { timeout: 15_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-fcgi-unix-'));
  const path = join(dir, 'app.sock');
  const responder = createResponder({ log, onRequest: echo });
  const server = net.createServer();
  responder.attach(server);
  await new Promise<void>((r) => server.listen(path, r));
  const client = createFastcgiClient({ upstreams: [`unix:${path}`], log });
  try {
    const res = await client.request({ params: { QUERY_STRING: 'over-unix' }, body: null });
    assert.match((await readAll(res.stdout)).toString(), /X-Q: over-unix/);
  } finally {
    await client.close();
    const closed = new Promise<void>((r) => server.close(() => r()));
    await responder.close(1000);
    await closed;
    rmSync(dir, { recursive: true, force: true });
  }
});
