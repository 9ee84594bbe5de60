// /cgi-bin/ answers: a small response that ends at once leaves in one write with a Content-Length; a large one streams.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fetchRaw, type Harness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const T = { timeout: 20_000 };

test('collect: a small complete response gets a Content-Length and no chunked framing', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?pid');
  assert.equal(r.status, 200);
  assert.match(r.text, /^pid=\d+\n$/);
  assert.equal(r.headers['content-length'], String(r.body.length));
  assert.equal(r.headers['transfer-encoding'], undefined);
});

test('collect: the script\'s own Content-Length is kept and enforced', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?cl-long');
  assert.equal(r.headers['content-length'], '5');
  assert.equal(r.text, '01234');
});

test('collect: HEAD of a small response sends the head only', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?pid', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 0);
});

test('collect: a response over the collect limit streams through whole, chunked', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?big');
  assert.equal(r.status, 200);
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.equal(r.body.length, 8 * 1024 * 1024);
  assert.ok(r.body.every((b) => b === 0x62), 'every byte is the script output');
});

test('collect: a local redirect found in a collected response is followed', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?local-redirect');
  assert.equal(r.status, 200);
  assert.match(r.text, /^redirected method=GET query=redirected/);
  assert.equal(r.headers['content-length'], String(r.body.length));
});
