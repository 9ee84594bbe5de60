// The NPH-to-CGI rewrite (src/pool/nph): golden outputs, fed whole, byte by byte and split at every offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { NphHead, NphToCgi, isNphScript, statusFieldOf } from '../../src/pool/nph.js';

const CASES: Array<[string, string, string]> = [
  ['status line with reason', 'HTTP/1.1 203 Non-Authoritative Information\r\nContent-Type: text/plain\r\n\r\nbody\n',
    'Status: 203 Non-Authoritative Information\r\nContent-Type: text/plain\r\n\r\nbody\n'],
  ['a reason of our own', 'HTTP/1.0 299 Custom NPH\r\nX-Nph: yes\r\n\r\n', 'Status: 299 Custom NPH\r\nX-Nph: yes\r\n\r\n'],
  ['no reason phrase', 'HTTP/1.1 204\r\n\r\n', 'Status: 204\r\n\r\n'],
  ['bare LF line ends', 'HTTP/1.1 404 Gone Fishing\nContent-Type: text/plain\n\nx', 'Status: 404 Gone Fishing\nContent-Type: text/plain\n\nx'],
  ['CGI header fields after all: unchanged', 'Content-Type: text/plain\r\n\r\nHTTP/1.1 200 OK\r\n', 'Content-Type: text/plain\r\n\r\nHTTP/1.1 200 OK\r\n'],
  ['not a status line: unchanged', 'HTTP/1.1 2000 Nope\r\n\r\n', 'HTTP/1.1 2000 Nope\r\n\r\n'],
  ['a first line that never ends: unchanged', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK'],
  ['empty output', '', ''],
  ['binary body after the head passes byte for byte', 'HTTP/1.1 200 OK\r\n\r\n\u00ff\u0000\u00fe', 'Status: 200 OK\r\n\r\n\u00ff\u0000\u00fe'],
];

function run(pieces: Buffer[]): string {
  const head = new NphHead();
  const out: Buffer[] = pieces.map((p) => head.push(p));
  out.push(head.end());
  return Buffer.concat(out).toString('latin1');
}

test('the status line becomes a Status field, everything else passes as written', () => {
  for (const [name, input, want] of CASES) {
    const bytes = Buffer.from(input, 'latin1');
    assert.equal(run([bytes]), want, `${name}: whole`);
    assert.equal(run([...bytes].map((b) => Buffer.from([b]))), want, `${name}: byte by byte`);
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.equal(run([bytes.subarray(0, cut), bytes.subarray(cut)]), want, `${name}: split at ${cut}`);
    }
  }
});

test('after the first line every chunk passes through as the same buffer (no copy)', () => {
  const head = new NphHead();
  assert.equal(head.push(Buffer.from('HTTP/1.1 200 OK\r\n')).toString(), 'Status: 200 OK\r\n');
  const body = Buffer.from('rest of the response');
  assert.equal(head.push(body), body);
});

test('a first line longer than a status line can be is passed through unchanged', () => {
  const long = 'HTTP/1.1 200 ' + 'x'.repeat(2000) + '\r\n\r\n';
  assert.equal(run([Buffer.from(long)]), long);
  const pieces = [...Buffer.from(long)].map((b) => Buffer.from([b]));
  assert.equal(run(pieces), long);
});

test('statusFieldOf and isNphScript', () => {
  assert.equal(statusFieldOf('HTTP/1.1 203 Non-Authoritative Information'), 'Status: 203 Non-Authoritative Information');
  assert.equal(statusFieldOf('HTTP/2.0 500 '), 'Status: 500');
  assert.equal(statusFieldOf('Status: 200 OK'), null);
  assert.equal(statusFieldOf('HTTP/1.1 20 OK'), null);
  assert.equal(isNphScript('/srv/cgi-bin/nph-test.cgi'), true);
  assert.equal(isNphScript('/srv/nph-dir/test.cgi'), false);
});

test('the stream form gives the same bytes', async () => {
  const input = 'HTTP/1.1 203 Non-Authoritative Information\r\nX-A: 1\r\n\r\nbody';
  const chunks = [...Buffer.from(input)].map((b) => Buffer.from([b]));
  const out: Buffer[] = [];
  for await (const c of Readable.from(chunks).pipe(new NphToCgi())) out.push(c as Buffer);
  assert.equal(Buffer.concat(out).toString(), 'Status: 203 Non-Authoritative Information\r\nX-A: 1\r\n\r\nbody');
});
