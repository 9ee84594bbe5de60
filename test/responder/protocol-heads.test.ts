// Golden bytes and chunk-boundary tests for the uwsgi packet and the SCGI netstring decoders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UwsgiDecoder, decodeUwsgiVars, encodeUwsgiPacket } from '../../src/uwsgi/protocol.js';
import { ScgiDecoder, encodeScgiHeaders } from '../../src/scgi/protocol.js';
import { isHeadError, type DecodedHead, type HeadDecoder, type HeadError } from '../../src/responder/head.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Feeds `pieces` in order; the head and every byte after it (the body start and later chunks). */
function feed(decoder: HeadDecoder, pieces: Buffer[]): { head: DecodedHead | HeadError | null; after: Buffer } {
  let head: DecodedHead | HeadError | null = null;
  const after: Buffer[] = [];
  for (const p of pieces) {
    if (head === null) {
      head = decoder.push(p);
      if (head !== null && !isHeadError(head)) after.push(Buffer.from(head.rest));
    } else after.push(p);
  }
  return { head, after: Buffer.concat(after) };
}

function everySplit(bytes: Buffer, make: () => HeadDecoder, check: (r: ReturnType<typeof feed>, how: string) => void): void {
  check(feed(make(), [bytes]), 'whole');
  check(feed(make(), [...bytes].map((b) => Buffer.from([b]))), 'byte by byte');
  for (let cut = 0; cut <= bytes.length; cut++) check(feed(make(), [bytes.subarray(0, cut), bytes.subarray(cut)]), `split at ${cut}`);
}

test('uwsgi packet: golden bytes of header and vars (little-endian sizes)', () => {
  const packet = encodeUwsgiPacket([['REQUEST_METHOD', 'GET'], ['QUERY_STRING', '']]);
  assert.equal(hex(packet.subarray(0, 4)), '00' + '2500' + '00'); // modifier1 0, datasize 37 LE, modifier2 0
  assert.equal(hex(packet.subarray(4, 6)), '0e00'); // key size 14, little-endian
  assert.equal(packet.subarray(6, 20).toString(), 'REQUEST_METHOD');
  assert.equal(hex(packet.subarray(20, 22)), '0300');
  assert.equal(packet.length, 4 + 37);
  const vars = decodeUwsgiVars(packet, 4, packet.length);
  assert.deepEqual([...vars!], [['REQUEST_METHOD', 'GET'], ['QUERY_STRING', '']]);
  assert.equal(decodeUwsgiVars(packet, 4, packet.length - 1), null, 'truncated value');
  assert.equal(decodeUwsgiVars(packet, 4, 5), null, 'truncated key size');
});

test('uwsgi decoder: the head and the body start at every chunk boundary', () => {
  const bytes = Buffer.concat([
    encodeUwsgiPacket([['CONTENT_LENGTH', '5'], ['HTTP_X_FORWARDED_FOR', 'a'], ['HTTP_X_FORWARDED_FOR', 'b'], ['HTTP_COOKIE', 'a=1'], ['HTTP_COOKIE', 'b=2'], ['PATH_INFO', '/é']]),
    Buffer.from('hello'),
  ]);
  everySplit(bytes, () => new UwsgiDecoder(), ({ head, after }, how) => {
    assert.ok(head !== null && !isHeadError(head), how);
    assert.equal(head.params.get('CONTENT_LENGTH'), '5', how);
    assert.equal(head.params.get('HTTP_X_FORWARDED_FOR'), 'a, b', how);
    assert.equal(head.params.get('HTTP_COOKIE'), 'a=1; b=2', how);
    assert.equal(head.params.get('PATH_INFO'), '/é', how);
    assert.equal(after.toString(), 'hello', how);
  });
});

test('uwsgi decoder: a modifier1 other than 0 and malformed vars are errors, never throws', () => {
  const other = encodeUwsgiPacket([['A', 'b']], 5);
  const r = new UwsgiDecoder().push(other);
  assert.ok(r !== null && isHeadError(r) && r.kind === 'malformed' && /modifier1 5/.test(r.message));
  const bad = encodeUwsgiPacket([['A', 'b']]);
  bad.writeUInt16LE(200, 4); // key size past the block
  const r2 = new UwsgiDecoder().push(bad);
  assert.ok(r2 !== null && isHeadError(r2) && r2.kind === 'malformed');
  assert.throws(() => encodeUwsgiPacket([['K', 'v'.repeat(70_000)]]), RangeError);
});

test('SCGI netstring: golden bytes (the example of the SCGI specification)', () => {
  const bytes = encodeScgiHeaders([['CONTENT_LENGTH', '27'], ['SCGI', '1'], ['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/deepthought']]);
  assert.equal(bytes.toString('latin1'), '70:CONTENT_LENGTH\u000027\u0000SCGI\u00001\u0000REQUEST_METHOD\u0000POST\u0000REQUEST_URI\u0000/deepthought\u0000,');
});

test('SCGI decoder: the head and the body start at every chunk boundary; SCGI=1 may be absent', () => {
  const bytes = Buffer.concat([encodeScgiHeaders([['CONTENT_LENGTH', '5'], ['HTTP_X_FORWARDED_FOR', 'a'], ['HTTP_X_FORWARDED_FOR', 'b'], ['REQUEST_METHOD', 'POST']]), Buffer.from('hello')]);
  everySplit(bytes, () => new ScgiDecoder(1024), ({ head, after }, how) => {
    assert.ok(head !== null && !isHeadError(head), how);
    assert.equal(head.params.get('CONTENT_LENGTH'), '5', how);
    assert.equal(head.params.get('HTTP_X_FORWARDED_FOR'), 'a, b', how);
    assert.equal(head.params.has('SCGI'), false, how);
    assert.equal(after.toString(), 'hello', how);
  });
});

test('SCGI decoder: refusals are errors with a reason', () => {
  const cases: Array<[string, string, 'too-large' | 'malformed', RegExp]> = [
    ['no length', 'x:', 'malformed', /netstring length/],
    ['CONTENT_LENGTH not first', '10:SCGI\u00001\u0000A\u0000\u0000,', 'malformed', /first header is SCGI/],
    ['no comma', '17:CONTENT_LENGTH\u00000\u0000;', 'malformed', /does not end with ","/],
    ['value without NUL', '16:CONTENT_LENGTH\u00000,', 'malformed', /not NUL-terminated/],
    ['too large', '2000:', 'too-large', /2000 bytes exceed the 1024-byte bound/],
    ['endless digits', '12345678901:', 'malformed', /netstring length/],
  ];
  for (const [name, input, kind, message] of cases) {
    const bytes = Buffer.from(input, 'latin1');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new ScgiDecoder(1024);
      let r = d.push(bytes.subarray(0, cut));
      if (r === null) r = d.push(bytes.subarray(cut));
      assert.ok(r !== null && isHeadError(r), `${name} at ${cut}`);
      assert.equal(r.kind, kind, name);
      assert.match(r.message, message, name);
    }
  }
});
