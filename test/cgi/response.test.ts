// Unit tests of the CGI response parser (cgi/response): whole, byte by byte, split at every offset; every malformed form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { CgiHeadParser, classify, readCgiHead, type CgiHead, type HeadResult } from '../../src/cgi/response.js';

const MAX = 64 * 1024;

function parseChunks(chunks: Buffer[]): { result: HeadResult; rest: Buffer } {
  const p = new CgiHeadParser(MAX);
  const rest: Buffer[] = [];
  let done = false;
  for (const c of chunks) {
    if (done) rest.push(c);
    else if (p.push(c)) {
      done = true;
      rest.push(p.rest);
    }
  }
  return { result: done ? (p.result as HeadResult) : p.end(), rest: Buffer.concat(rest) };
}

function head(r: HeadResult): CgiHead {
  assert.ok(r.ok, `expected a parsed head, got ${JSON.stringify(r)}`);
  return r.head;
}

const SAMPLE = Buffer.from('Status: 201 Made\r\nContent-Type: text/plain\r\nX-A: 1\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 4\r\n\r\nbody');

test('response: a document head parsed whole', () => {
  const { result, rest } = parseChunks([SAMPLE]);
  const h = head(result);
  assert.equal(h.status, 201);
  assert.equal(h.reason, 'Made');
  assert.equal(h.contentType, 'text/plain');
  assert.equal(h.contentLength, 4);
  assert.deepEqual(h.fields, [['X-A', '1'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']]);
  assert.equal(rest.toString(), 'body');
  assert.equal(classify(h), 'document');
});

test('response: the same bytes one at a time and split at every offset give the same head and body', () => {
  const whole = parseChunks([SAMPLE]);
  const bytes = [...SAMPLE].map((b) => Buffer.from([b]));
  const single = parseChunks(bytes);
  assert.deepEqual(single.result, whole.result);
  assert.equal(single.rest.toString(), 'body');
  for (let i = 0; i <= SAMPLE.length; i++) {
    const split = parseChunks([SAMPLE.subarray(0, i), SAMPLE.subarray(i)]);
    assert.deepEqual(split.result, whole.result, `split at ${i}`);
    assert.equal(split.rest.toString(), 'body', `split at ${i}`);
  }
});

test('response: bare LF endings and a missing Status reason', () => {
  const h = head(parseChunks([Buffer.from('Status: 404\nContent-Type: text/html\n\n<p>')]).result);
  assert.equal(h.status, 404);
  assert.equal(h.reason, null);
});

test('response: classify local redirect, client redirect and document (RFC 3875 §6.2)', () => {
  const local = head(parseChunks([Buffer.from('Location: /other?x=1\r\n\r\n')]).result);
  assert.equal(classify(local), 'local-redirect');
  const client = head(parseChunks([Buffer.from('Location: http://example.com/\r\n\r\n')]).result);
  assert.equal(classify(client), 'client-redirect');
  const withFields = head(parseChunks([Buffer.from('Location: /x\r\nX-Y: 1\r\n\r\n')]).result);
  assert.equal(classify(withFields), 'client-redirect');
  const protocolRelative = head(parseChunks([Buffer.from('Location: //evil.example/\r\n\r\n')]).result);
  assert.equal(classify(protocolRelative), 'client-redirect');
});

const MALFORMED: Array<[string, string, string]> = [
  ['no blank line', 'Content-Type: text/plain\r\n', 'no-header-end'],
  ['empty output', '', 'no-header-end'],
  ['header without colon', 'Content-Type text/plain\r\n\r\n', 'header-without-colon'],
  ['invalid status', 'Status: abc\r\n\r\n', 'invalid-status'],
  ['status out of range', 'Status: 999 No\r\n\r\n', 'invalid-status'],
  ['status 1xx', 'Status: 101 Switching\r\n\r\n', 'invalid-status'],
  ['status glued to text', 'Status: 2000\r\n\r\n', 'invalid-status'],
  ['CR inside a header', 'X-A: a\rInjected: b\r\n\r\n', 'control-character'],
  ['NUL inside a header', 'X-A: a\0b\r\n\r\n', 'control-character'],
  ['obsolete line folding', 'X-A: a\r\n  folded\r\n\r\n', 'obsolete-line-folding'],
  ['bad field name', 'Bad Name: x\r\n\r\n', 'bad-header-name'],
  ['bad Content-Length', 'Content-Length: 1e3\r\n\r\n', 'invalid-content-length'],
  ['conflicting Content-Length', 'Content-Length: 1\r\nContent-Length: 2\r\n\r\n', 'invalid-content-length'],
  ['two Status fields', 'Status: 200\r\nStatus: 404\r\n\r\n', 'duplicate-field'],
  ['64 KiB of headers', 'X-Pad: ' + 'a'.repeat(70 * 1024) + '\r\n\r\n', 'headers-too-large'],
  ['64 KiB without a newline', 'a'.repeat(70 * 1024), 'headers-too-large'],
];

for (const [name, text, reason] of MALFORMED) {
  test(`response: malformed: ${name}`, () => {
    const whole = parseChunks([Buffer.from(text)]).result;
    assert.equal(whole.ok, false);
    assert.equal(!whole.ok && whole.reason, reason);
    if (text.length < 200) {
      const single = parseChunks([...Buffer.from(text)].map((b) => Buffer.from([b]))).result;
      assert.equal(!single.ok && single.reason, reason, 'byte by byte');
    }
  });
}

test('response: readCgiHead leaves the body in the stream, unshifted before later chunks', async () => {
  const s = new PassThrough();
  s.write('Content-Type: text/plain\r\n\r\nfirst ');
  const pending = readCgiHead(s, MAX);
  const r = await pending;
  assert.ok(r.ok);
  s.end('second');
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'first second');
});

test('response: readCgiHead reports a stream that ends without the blank line', async () => {
  const r = await readCgiHead(Readable.from([Buffer.from('Content-Type: x\r\n')]), MAX);
  assert.equal(!r.ok && r.reason, 'no-header-end');
});

test('response: readCgiHead on a stream that already ended answers at once', async () => {
  const s = new PassThrough();
  s.end();
  s.resume();
  await new Promise((r) => s.once('end', r));
  const r = await readCgiHead(s, MAX);
  assert.equal(!r.ok && r.reason, 'no-header-end');
});
