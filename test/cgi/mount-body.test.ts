// Integration tests of request bodies at /cgi-bin/: sizes 0/1/64 KiB/8 MiB, chunked spooling, 413, no deadlock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startHarness, fetchRaw, type Harness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness({ limits: { maxBodySize: 9 * 1024 * 1024 } });
});
after(async () => {
  await h.close();
});

const T = { timeout: 30_000 };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const spoolFiles = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('forkfast-body-'));

function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

for (const size of [0, 1, 64 * 1024, 8 * 1024 * 1024]) {
  test(`body: POST with Content-Length ${size} reaches stdin whole, CONTENT_LENGTH exact`, T, async () => {
    const body = pattern(size);
    const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?echo', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) } });
    assert.equal(r.status, 200);
    const [len, type, hash] = r.text.split('\n');
    assert.equal(len, `CONTENT_LENGTH=${size}`);
    assert.equal(type, 'CONTENT_TYPE=application/octet-stream');
    assert.equal(hash?.split(' ')[0], sha(body));
  });
}

for (const size of [0, 1, 64 * 1024, 8 * 1024 * 1024]) {
  test(`body: chunked POST of ${size} bytes is de-chunked and spooled with an exact CONTENT_LENGTH, temp file removed`, T, async () => {
    const body = pattern(size);
    const parts: Buffer[] = [];
    for (let off = 0; off < size; off += 100_000) parts.push(body.subarray(off, off + 100_000));
    const before = spoolFiles().length;
    const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?echo', { method: 'POST', body: parts, headers: { 'transfer-encoding': 'chunked', 'content-type': 'text/plain' } });
    assert.equal(r.status, 200);
    const [len, , hash] = r.text.split('\n');
    assert.equal(len, `CONTENT_LENGTH=${size}`);
    assert.equal(hash?.split(' ')[0], sha(body));
    assert.equal(spoolFiles().length, before, 'no temp file left behind');
  });
}

test('body: over the max body size is 413, declared or chunked (Go answers 400 and breaks git push)', T, async () => {
  const big = pattern(9 * 1024 * 1024 + 1);
  const declared = await fetchRaw(h.port, '/cgi-bin/test.cgi?echo', { method: 'POST', headers: { 'content-length': String(big.length) }, body: Buffer.alloc(0) }).catch(() => null);
  assert.equal(declared?.status ?? 413, 413);
  const parts: Buffer[] = [];
  for (let off = 0; off < big.length; off += 256 * 1024) parts.push(big.subarray(off, off + 256 * 1024));
  const chunked = await fetchRaw(h.port, '/cgi-bin/test.cgi?echo', { method: 'POST', body: parts, headers: { 'transfer-encoding': 'chunked' } }).catch((e: Error) => e);
  // The client may still be writing when the 413 and the close arrive (EPIPE): then the log tells.
  if (!(chunked instanceof Error)) assert.equal(chunked.status, 413);
  assert.ok(h.logs().some((l) => l['msg'] === 'request body refused' && l['reason'] === 'chunked body over the limit'));
  assert.equal(spoolFiles().length, 0);
});

test('body: a script that writes 1 MiB before reading a 1 MiB body does not deadlock (fcgiwrap does)', T, async () => {
  const body = pattern(1024 * 1024);
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?write-before-read', { method: 'POST', body });
  assert.equal(r.status, 200);
  const lines = r.text.split('\n');
  assert.equal(lines[0]?.length, 1024 * 1024);
  assert.equal(lines[1]?.split(' ')[0], sha(body));
});

test('body: a body the script never reads does not hang the request', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?no-read', { method: 'POST', body: pattern(4 * 1024 * 1024) });
  assert.equal(r.status, 200);
  assert.equal(r.text, 'did not read\n');
});
