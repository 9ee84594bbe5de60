// The resident fast paths (docs/performance.md): whole responses without streams on both sides,
// FCGI_OVERLOADED retried once, and the front's one-write answer with a computed Content-Length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { pino } from 'pino';
import { createFastcgiClient } from '../../src/fastcgi/client.js';
import { RecordDecoder } from '../../src/fastcgi/decoder.js';
import {
  FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_GET_VALUES, FCGI_OVERLOADED, FCGI_REQUEST_COMPLETE, FCGI_STDERR, FCGI_STDOUT,
  encodeEndRequest, encodeRecord, encodeResponse,
} from '../../src/fastcgi/protocol.js';
import { createFront, type Front } from '../../src/http/server.js';
import { createFastcgiMount } from '../../src/fastcgi/mount.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchRaw } from '../cgi/harness.js';
import { listenResponder } from './helpers.js';

const log = pino({ level: 'silent' });

/** Decodes every record of `buf` (which must hold whole records). */
function records(buf: Buffer): Array<{ type: number; id: number; content: Buffer }> {
  const out: Array<{ type: number; id: number; content: Buffer }> = [];
  const dec = new RecordDecoder({
    onStream: (type, id, data) => void out.push({ type, id, content: Buffer.from(data) }),
    onRecord: (type, id, content) => void out.push({ type, id, content: Buffer.from(content) }),
  });
  assert.equal(dec.push(buf), null);
  return out;
}

test('encodeResponse: STDOUT split at 65535, the terminators, END_REQUEST; strings as latin1', () => {
  const data = Buffer.alloc(70_000, 'q');
  const recs = records(encodeResponse(3, data, true, 9));
  assert.deepEqual(recs.map((r) => [r.type, r.id, r.content.length]), [
    [FCGI_STDOUT, 3, 65535], [FCGI_STDOUT, 3, 70_000 - 65535], [FCGI_STDOUT, 3, 0], [FCGI_STDERR, 3, 0], [FCGI_END_REQUEST, 3, 8],
  ]);
  assert.equal(recs[4]!.content.readUInt32BE(0), 9);
  assert.equal(recs[4]!.content[4], FCGI_REQUEST_COMPLETE);
  const small = records(encodeResponse(1, 'Status: 200\r\n\r\n\u00e9', false, 0));
  assert.deepEqual([...small[0]!.content.subarray(-1)], [0xe9]);
  assert.deepEqual(small.map((r) => r.type), [FCGI_STDOUT, FCGI_STDOUT, FCGI_END_REQUEST]);
  assert.equal(records(encodeResponse(1, '', false, 0)).length, 2);
});

test('client: a small response is taken whole (no stream); endWith after streaming keeps the order', { timeout: 15_000 }, async () => {
  const l = await listenResponder({
    onRequest(r) {
      if (r.params.get('MODE') === 'mixed') {
        r.stdout.write('Content-Type: text/plain\r\n\r\nfirst ');
        r.endWith('second', 4);
      } else r.endWith('Content-Type: text/plain\r\n\r\nwhole', 0);
    },
  });
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${l.port}`], log });
  try {
    const res = await client.request({ params: {}, body: null });
    assert.equal(res.takeComplete()?.toString(), 'Content-Type: text/plain\r\n\r\nwhole');
    assert.deepEqual(await res.ended, { appStatus: 0, protocolStatus: 0 });
    const mixed = await client.request({ params: { MODE: 'mixed' }, body: null });
    const parts: Buffer[] = [];
    for await (const c of mixed.stdout) parts.push(c as Buffer);
    assert.equal(Buffer.concat(parts).toString(), 'Content-Type: text/plain\r\n\r\nfirst second');
    assert.equal(mixed.takeComplete(), null, 'a stream was asked for: nothing whole to take');
    assert.equal((await mixed.ended).appStatus, 4);
  } finally {
    await client.close();
    await l.close();
  }
});

/** A fake upstream that closes GET_VALUES probes and answers requests with `answer(connIndex)`. */
async function fakeUpstream(answer: (conn: number, id: number) => Buffer): Promise<{ port: number; conns: () => number; close(): Promise<void> }> {
  let n = 0;
  const server = net.createServer((sock) => {
    sock.on('error', () => {});
    let index = -1;
    sock.once('data', (c: Buffer) => {
      if (c[1] === FCGI_GET_VALUES) return sock.destroy();
      index = n++;
      const recs = records(c);
      const begin = recs.find((r) => r.type === FCGI_BEGIN_REQUEST);
      if (begin !== undefined) sock.write(answer(index, begin.id));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    conns: () => n,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test('client: FCGI_OVERLOADED before any STDOUT is retried once on a fresh connection', { timeout: 15_000 }, async () => {
  const fake = await fakeUpstream((conn, id) => (conn === 0 ? encodeEndRequest(id, 0, FCGI_OVERLOADED) : encodeResponse(id, 'Status: 200\r\n\r\nsecond try', false, 0)));
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${fake.port}`], log });
  try {
    const res = await client.request({ params: {}, body: null });
    assert.equal(res.takeComplete()?.toString(), 'Status: 200\r\n\r\nsecond try');
    assert.equal(fake.conns(), 2);
  } finally {
    await client.close();
    await fake.close();
  }
});

test('client: FCGI_OVERLOADED twice is a 503-class error (one retry only)', { timeout: 15_000 }, async () => {
  const fake = await fakeUpstream((_conn, id) => encodeEndRequest(id, 0, FCGI_OVERLOADED));
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${fake.port}`], log });
  try {
    await assert.rejects(client.request({ params: {}, body: null }), { code: 'FCGI_OVERLOADED' });
    assert.equal(fake.conns(), 2);
    assert.equal(client.stats().inFlight, 0);
  } finally {
    await client.close();
    await fake.close();
  }
});

test('front: a whole response gets a Content-Length; a short or long one keeps its own framing', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-fastpath-'));
  writeFileSync(join(dir, 'x.php'), '');
  const l = await listenResponder({
    onRequest(r) {
      const q = r.params.get('QUERY_STRING');
      if (q === 'short') r.endWith('Content-Length: 10\r\n\r\nabc');
      else if (q === 'long') r.endWith('Content-Length: 3\r\n\r\nabcdef');
      else if (q === 'redirect') r.endWith('Location: /p/x.php?plain\r\n\r\n');
      else r.endWith('Content-Type: text/plain\r\nX-A: 1\r\n\r\nhello');
    },
  });
  const mount = createFastcgiMount({
    prefix: '/p/',
    scripts: { kind: 'docroot', dir },
    client: { upstreams: [`127.0.0.1:${l.port}`] },
    log,
    limits: { maxBodySize: 1024, maxHeaderBytes: 4096 },
    passAuthorization: false,
    serverSoftware: 'forkfast/test',
  });
  const limits = { maxHeaderSize: 16 * 1024, maxBodySize: 1024, headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000, shutdownTimeoutMs: 2_000 };
  const front: Front = createFront({ mounts: [mount], log, limits });
  const { port } = await front.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 } as Parameters<Front['listen']>[0]);
  try {
    const plain = await fetchRaw(port ?? 0, '/p/x.php');
    assert.equal(plain.status, 200);
    assert.equal(plain.text, 'hello');
    assert.equal(plain.headers['content-length'], '5');
    assert.equal(plain.headers['transfer-encoding'], undefined);
    assert.equal(plain.headers['x-a'], '1');
    const long = await fetchRaw(port ?? 0, '/p/x.php?long');
    assert.equal(long.text, 'abc');
    const redirected = await fetchRaw(port ?? 0, '/p/x.php?redirect');
    assert.equal(redirected.text, 'hello', 'a local redirect (RFC 3875 §6.2.2) is followed from the whole response too');
    // Short of its Content-Length with nothing sent yet: a 502 rather than an empty reply.
    const short = await fetchRaw(port ?? 0, '/p/x.php?short');
    assert.equal(short.status, 502, 'a body short of its Content-Length is not delivered as if whole');
  } finally {
    await front.close(1000);
    await l.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('responder: without KEEP_CONN the connection closes after END_REQUEST; an unread body never costs the response', { timeout: 15_000 }, async () => {
  const { rawExchange } = await import('./helpers.js');
  const { encodeBeginRequest, encodeNameValuePairs, encodeStream, FCGI_PARAMS, FCGI_STDIN, FCGI_RESPONDER } = await import('../../src/fastcgi/protocol.js');
  const l = await listenResponder({ onRequest: (r) => r.endWith('Status: 200\r\n\r\nanswered without reading') });
  try {
    const open = (body: Buffer, end: boolean): Buffer => {
      const parts: Buffer[] = [encodeBeginRequest(1, FCGI_RESPONDER, false)];
      encodeStream(FCGI_PARAMS, 1, encodeNameValuePairs([['CONTENT_LENGTH', String(body.length)]]), parts);
      parts.push(encodeRecord(FCGI_PARAMS, 1));
      encodeStream(FCGI_STDIN, 1, body, parts);
      if (end) parts.push(encodeRecord(FCGI_STDIN, 1));
      return Buffer.concat(parts);
    };
    // Whole input read: closed by the responder at once (we never close our side).
    const small = await rawExchange(l.port, open(Buffer.alloc(10), true), () => false);
    assert.equal(small.closed, true);
    assert.deepEqual(small.records.map((r) => r.type), [FCGI_STDOUT, FCGI_END_REQUEST]);
    // 600 kB of body the handler never reads, its end never sent: the answer still arrives whole.
    const big = await rawExchange(l.port, open(Buffer.alloc(600_000, 'b'), false), (recs) => recs.some((r) => r.type === FCGI_END_REQUEST));
    assert.equal(big.records.find((r) => r.type === FCGI_STDOUT)?.content.toString(), 'Status: 200\r\n\r\nanswered without reading');
  } finally {
    await l.close();
  }
});
