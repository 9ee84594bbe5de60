// Golden byte tables and chunk-boundary tests for the FastCGI codec (src/fastcgi/protocol, decoder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FCGI_AUTHORIZER, FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_GET_VALUES, FCGI_GET_VALUES_RESULT, FCGI_KEEP_CONN,
  FCGI_PARAMS, FCGI_REQUEST_COMPLETE, FCGI_RESPONDER, FCGI_STDIN, FCGI_STDOUT, FCGI_UNKNOWN_TYPE,
  decodeNameValuePairs, encodeBeginRequest, encodeEndRequest, encodeGetValues, encodeGetValuesResult,
  encodeNameValuePairs, encodeRecord, encodeRequestHead, encodeStream, encodeUnknownType, writeNameValueLength,
} from '../../src/fastcgi/protocol.js';
import { ParamsCollector, RecordDecoder, type RecordSink } from '../../src/fastcgi/decoder.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// §3.4 length encodings (the same table as Go's net/http/fcgi TestSize).
const SIZES: Array<[number, number[]]> = [
  [0, [0x00]],
  [127, [0x7f]],
  [128, [0x80, 0x00, 0x00, 0x80]],
  [1000, [0x80, 0x00, 0x03, 0xe8]],
  [33554431, [0x81, 0xff, 0xff, 0xff]],
];

test('name-value lengths: 1 byte below 128, else 4 bytes with the high bit', () => {
  for (const [n, bytes] of SIZES) {
    const b = Buffer.alloc(4);
    const end = writeNameValueLength(b, 0, n);
    assert.equal(hex(b.subarray(0, end)), hex(Uint8Array.from(bytes)), `length ${n}`);
  }
});

test('name-value pairs round-trip at every length boundary, including 33554431', () => {
  for (const [n] of SIZES) {
    const value = 'v'.repeat(n);
    const enc = encodeNameValuePairs([['N', value], ['X', 'y']]);
    const m = new Map<string, string>();
    assert.ok(decodeNameValuePairs(enc, m));
    assert.equal(m.get('N')?.length, n);
    assert.equal(m.get('X'), 'y');
    // Truncated anywhere in the last pair's bytes: reported, never thrown.
    assert.equal(decodeNameValuePairs(enc.subarray(0, enc.length - 1), new Map()), false);
  }
});

// §3.3: the 66,000-byte stream of Go's TestStreams: 65535 + 1 padding, 465 + 7 padding, terminator.
function golden66000(): Buffer {
  return Buffer.concat([
    Buffer.from([1, FCGI_STDIN, 0x01, 0x2c, 0xff, 0xff, 1, 0]), Buffer.alloc(65536),
    Buffer.from([1, FCGI_STDIN, 0x01, 0x2c, 0x01, 0xd1, 7, 0]), Buffer.alloc(472),
    Buffer.from([1, FCGI_STDIN, 0x01, 0x2c, 0, 0, 0, 0]),
  ]);
}

test('a 66000-byte stream becomes two records plus the empty terminator', () => {
  const parts: Buffer[] = [];
  encodeStream(FCGI_STDIN, 300, Buffer.alloc(66000), parts);
  parts.push(encodeRecord(FCGI_STDIN, 300));
  assert.ok(Buffer.concat(parts).equals(golden66000()));
  assert.equal(hex(encodeRecord(FCGI_STDOUT, 1)), '0106000100000000');
});

test('GET_VALUES and GET_VALUES_RESULT bytes (Go TestGetValues)', () => {
  const want = '\x01\n\x00\x00\x00\x12\x06\x00\x0f\x01FCGI_MPXS_CONNS1\x00\x00\x00\x00\x00\x00';
  assert.equal(encodeGetValuesResult([['FCGI_MPXS_CONNS', '1']]).toString('latin1'), want);
  const q = encodeGetValues(['FCGI_MAX_CONNS']);
  assert.equal(hex(q.subarray(0, 8)), '0109000000100000');
  assert.equal(q.subarray(8, 24).toString('latin1'), '\x0e\x00FCGI_MAX_CONNS');
});

test('BEGIN_REQUEST, END_REQUEST and UNKNOWN_TYPE bodies', () => {
  assert.equal(hex(encodeBeginRequest(1, FCGI_RESPONDER, true)), '0101000100080000' + '0001010000000000');
  assert.equal(hex(encodeEndRequest(258, 7, FCGI_REQUEST_COMPLETE)), '0103010200080000' + '0000000700000000');
  assert.equal(hex(encodeUnknownType(42)), '010b000000080000' + '2a00000000000000');
});

test('the request head production sends: BEGIN_REQUEST + PARAMS + empty PARAMS (+ empty STDIN) as bytes', () => {
  const params = encodeNameValuePairs([['SCRIPT_NAME', '/x']]); // 15 bytes: 1 byte of padding
  const begin = '0101000100080000' + '0001010000000000'; // Responder, FCGI_KEEP_CONN
  const pairs = '01040001000f0100' + '0b02' + Buffer.from('SCRIPT_NAME/x').toString('hex') + '00';
  const paramsEnd = '0104000100000000';
  const stdinEnd = '0105000100000000';
  assert.equal(hex(encodeRequestHead(1, params, true)), begin + pairs + paramsEnd + stdinEnd);
  assert.equal(hex(encodeRequestHead(1, params, false)), begin + pairs + paramsEnd, 'a body follows as STDIN records');
  assert.equal(hex(encodeRequestHead(258, params, true, FCGI_AUTHORIZER)).slice(0, 32), '0101010200080000' + '0002010000000000');
  // Past 65535 bytes: the same bytes as the separate encoders give (split, padded, terminated).
  const big = encodeNameValuePairs([['HTTP_X_BIG', 'v'.repeat(70_000)]]);
  const parts: Buffer[] = [encodeBeginRequest(7, FCGI_RESPONDER, true)];
  encodeStream(FCGI_PARAMS, 7, big, parts);
  parts.push(encodeRecord(FCGI_PARAMS, 7), encodeRecord(FCGI_STDIN, 7));
  assert.ok(encodeRequestHead(7, big, true).equals(Buffer.concat(parts)));
});

/** Records decoded events with adjacent stream pieces merged, so any chunking compares equal. */
class Recorder implements RecordSink {
  events: string[] = [];
  private acc: string | null = null;
  private accKey = '';
  onStream(type: number, id: number, data: Buffer): void {
    const key = `S${type}:${id}`;
    if (data.length === 0) {
      this.flush();
      this.events.push(`${key}:end`);
      return;
    }
    if (this.acc !== null && this.accKey !== key) this.flush();
    this.accKey = key;
    this.acc = (this.acc ?? '') + hex(data);
  }
  onRecord(type: number, id: number, content: Buffer): void {
    this.flush();
    this.events.push(`R${type}:${id}:${hex(content)}`);
  }
  flush(): void {
    if (this.acc !== null) this.events.push(`${this.accKey}:${this.acc}`);
    this.acc = null;
  }
}

function decodeIn(input: Buffer, cuts: number[]): { events: string[]; error: string | null } {
  const r = new Recorder();
  const d = new RecordDecoder(r);
  let prev = 0;
  let error: string | null = null;
  for (const cut of [...cuts, input.length]) {
    const e = d.push(input.subarray(prev, cut));
    if (e !== null) error = e.code;
    prev = cut;
  }
  r.flush();
  return { events: r.events, error };
}

const CONVERSATION = Buffer.concat([
  encodeGetValues(['FCGI_MAX_CONNS', 'FCGI_MPXS_CONNS']),
  encodeBeginRequest(1, FCGI_RESPONDER, true),
  encodeRecord(FCGI_PARAMS, 1, encodeNameValuePairs([['REQUEST_METHOD', 'POST'], ['LONG', 'x'.repeat(300)]])),
  encodeRecord(FCGI_PARAMS, 1),
  encodeRecord(FCGI_STDIN, 1, Buffer.from('hello')),
  encodeRecord(FCGI_STDIN, 1),
  encodeRecord(FCGI_UNKNOWN_TYPE, 0, Buffer.alloc(8)),
  encodeEndRequest(1, 0, FCGI_REQUEST_COMPLETE),
  Buffer.from([1, 200, 0, 0, 0, 3, 5, 0, 9, 9, 9, 0, 0, 0, 0, 0]), // unknown type 200, padded
]);

test('decoder: the same events whole, byte by byte, and split at every offset', () => {
  for (const input of [CONVERSATION, golden66000()]) {
    const whole = decodeIn(input, []);
    assert.equal(whole.error, null);
    assert.ok(whole.events.length >= 2);
    if (input.length < 5000) {
      const bytewise = decodeIn(input, Array.from({ length: input.length - 1 }, (_, i) => i + 1));
      assert.deepEqual(bytewise, whole);
    }
    const step = input.length < 5000 ? 1 : 997;
    for (let cut = 1; cut < input.length; cut += step) assert.deepEqual(decodeIn(input, [cut]), whole, `cut at ${cut}`);
    for (let cut = 1; cut < input.length; cut += step * 7) assert.deepEqual(decodeIn(input, [cut, Math.min(input.length, cut + 9)]), whole);
  }
  const w = decodeIn(CONVERSATION, []).events;
  assert.equal(w[0], `R${FCGI_GET_VALUES}:0:${hex(encodeGetValues(['FCGI_MAX_CONNS', 'FCGI_MPXS_CONNS']).subarray(8, 8 + 33))}`);
  assert.equal(w.at(-1), 'R200:0:090909');
  assert.ok(w.includes(`S${FCGI_STDIN}:1:${hex(Buffer.from('hello'))}`));
  assert.ok(w.includes(`R${FCGI_END_REQUEST}:1:0000000000000000`));
  assert.ok(w.includes(`R${FCGI_BEGIN_REQUEST}:1:0001${FCGI_KEEP_CONN.toString(16).padStart(2, '0')}0000000000`));
});

test('decoder: bad version, impossible lengths and HTTP garbage are protocol errors', () => {
  assert.equal(decodeIn(Buffer.from('GET / HTTP/1.1\r\n\r\n'), []).error, 'FCGI_BAD_VERSION');
  assert.equal(decodeIn(Buffer.from([1, FCGI_BEGIN_REQUEST, 0, 1, 0, 7, 0, 0]), []).error, 'FCGI_BAD_RECORD');
  assert.equal(decodeIn(Buffer.from([1, FCGI_BEGIN_REQUEST, 0, 0, 0, 8, 0, 0]), []).error, 'FCGI_BAD_RECORD');
  assert.equal(decodeIn(Buffer.from([1, FCGI_GET_VALUES_RESULT, 0, 5, 0, 0, 0, 0]), []).error, 'FCGI_BAD_RECORD');
  assert.equal(decodeIn(Buffer.from([1, FCGI_STDIN, 0, 0, 0, 0, 0, 0]), []).error, 'FCGI_BAD_RECORD');
  // Errors stick: nothing is decoded after one.
  const r = new Recorder();
  const d = new RecordDecoder(r);
  assert.equal(d.push(Buffer.from([2, 1, 0, 1, 0, 8, 0, 0]))?.code, 'FCGI_BAD_VERSION');
  assert.equal(d.push(encodeRecord(FCGI_STDIN, 1))?.code, 'FCGI_BAD_VERSION');
  assert.deepEqual(r.events, []);
});

test('PARAMS: a pair split across two records and two chunks is read whole; the bound holds', () => {
  const body = encodeNameValuePairs([['SCRIPT_FILENAME', '/srv/' + 'a'.repeat(200)], ['QUERY_STRING', 'q=1']]);
  for (let cut = 1; cut < body.length; cut++) {
    const c = new ParamsCollector(1024);
    assert.equal(c.add(body.subarray(0, cut)), null);
    assert.equal(c.add(body.subarray(cut)), null);
    const m = c.finish();
    assert.ok(m instanceof Map);
    assert.equal(m.get('QUERY_STRING'), 'q=1');
    assert.equal(m.get('SCRIPT_FILENAME')?.length, 205);
  }
  const small = new ParamsCollector(100);
  assert.equal(small.add(body)?.code, 'FCGI_PARAMS_TOO_LARGE');
  const bad = new ParamsCollector(1024);
  bad.add(Buffer.from([0x80, 0, 0, 5, 1, 65]));
  const res = bad.finish();
  assert.ok(!(res instanceof Map) && res.code === 'FCGI_BAD_PARAMS');
});

/** mulberry32: a seeded PRNG so a fuzz failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('decoder fuzz: random and mutated input never throws and stays bounded in memory', () => {
  const rand = prng(0xf0ca);
  const before = process.memoryUsage().heapUsed;
  let errors = 0;
  for (let i = 0; i < 3000; i++) {
    let input: Buffer;
    if (i % 3 === 0) {
      input = Buffer.alloc(1 + Math.floor(rand() * 2048));
      for (let j = 0; j < input.length; j++) input[j] = Math.floor(rand() * 256);
      if (rand() < 0.7) input[0] = 1; // get past the version check more often
    } else {
      input = Buffer.from(CONVERSATION);
      for (let k = 0; k < 1 + Math.floor(rand() * 6); k++) input[Math.floor(rand() * input.length)] = Math.floor(rand() * 256);
    }
    const d = new RecordDecoder({ onStream() {}, onRecord(_t, _id, content) { assert.ok(content.length <= 0xffff); } });
    let off = 0;
    while (off < input.length) {
      const n = 1 + Math.floor(rand() * 64);
      if (d.push(input.subarray(off, off + n)) !== null) {
        errors++;
        break;
      }
      off += n;
    }
  }
  assert.ok(errors > 100, `fuzz found ${errors} errors: the generator is too tame`);
  assert.ok(process.memoryUsage().heapUsed - before < 64 * 1024 * 1024, 'decoder memory grew without bound');
});

test('name-value pairs: non-ASCII names and values take the UTF-8 path and round-trip', () => {
  const pairs: Array<[string, string]> = [['A', 'plain'], ['PATH_INFO', '/caf\u00e9/\u65e5\u672c'], ['X', 'y'.repeat(200)]];
  const enc = encodeNameValuePairs(pairs);
  assert.equal(enc[1 + 1 + 1 + 5 + 1], 13); // 'PATH_INFO' value: 13 UTF-8 bytes, not 8 characters
  const m = new Map<string, string>();
  assert.ok(decodeNameValuePairs(enc, m));
  assert.deepEqual([...m], pairs);
  // A generator (one-shot iterable) is accepted too.
  assert.ok(encodeNameValuePairs((function* () { yield* pairs; })()).equals(enc));
});
