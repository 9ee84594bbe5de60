// The responder driven by raw records: roles, management records, KEEP_CONN, abort, bad peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RecordDecoder } from '../../src/fastcgi/decoder.js';
import {
  FCGI_ABORT_REQUEST, FCGI_AUTHORIZER, FCGI_END_REQUEST, FCGI_GET_VALUES_RESULT, FCGI_PARAMS,
  FCGI_OVERLOADED, FCGI_RESPONDER, FCGI_STDIN, FCGI_STDOUT, FCGI_UNKNOWN_ROLE, FCGI_UNKNOWN_TYPE, decodeNameValuePairs,
  encodeBeginRequest, encodeGetValues, encodeNameValuePairs, encodeRecord,
} from '../../src/fastcgi/protocol.js';
import { captureLog, listenResponder, rawExchange, type RawRecord } from './helpers.js';

const ended = (id: number) => (recs: RawRecord[]) => recs.some((r) => r.type === FCGI_END_REQUEST && r.id === id);

function simpleRequest(id: number, params: Array<[string, string]>, keepConn = true): Buffer {
  return Buffer.concat([
    encodeBeginRequest(id, FCGI_RESPONDER, keepConn),
    encodeRecord(FCGI_PARAMS, id, encodeNameValuePairs(params)),
    encodeRecord(FCGI_PARAMS, id),
    encodeRecord(FCGI_STDIN, id),
  ]);
}

test('GET_VALUES answers FCGI_MAX_CONNS, FCGI_MAX_REQS and FCGI_MPXS_CONNS=1; unknown management gets UNKNOWN_TYPE', { timeout: 10_000 }, async () => {
  const l = await listenResponder({ onRequest: (r) => r.end(), maxConns: 7, maxReqs: 9 });
  try {
    const input = Buffer.concat([encodeGetValues(['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS', 'OTHER']), encodeRecord(42, 0, Buffer.from('x'))]);
    const { records } = await rawExchange(l.port, input, (r) => r.length >= 2);
    assert.equal(records[0]?.type, FCGI_GET_VALUES_RESULT);
    const m = new Map<string, string>();
    assert.ok(decodeNameValuePairs(records[0]!.content, m));
    assert.deepEqual([...m], [['FCGI_MAX_CONNS', '7'], ['FCGI_MAX_REQS', '9'], ['FCGI_MPXS_CONNS', '1']]);
    assert.equal(records[1]?.type, FCGI_UNKNOWN_TYPE);
    assert.equal(records[1]?.content[0], 42);
  } finally {
    await l.close();
  }
});

test('Authorizer role gets FCGI_UNKNOWN_ROLE; HTTP_PROXY is dropped; no KEEP_CONN closes the connection', { timeout: 10_000 }, async () => {
  const seen: Array<Map<string, string>> = [];
  const l = await listenResponder({
    onRequest(r) {
      seen.push(r.params);
      r.stdout.write('Content-Type: text/plain\r\n\r\nok');
      r.end(3);
    },
  });
  try {
    const refused = Buffer.concat([encodeBeginRequest(5, FCGI_AUTHORIZER, true), encodeRecord(FCGI_PARAMS, 5), encodeRecord(FCGI_STDIN, 5)]);
    const req = simpleRequest(6, [['HTTP_PROXY', 'http://evil'], ['REQUEST_METHOD', 'GET']], false);
    const { records, closed } = await rawExchange(l.port, Buffer.concat([refused, req]), () => false);
    assert.ok(closed, 'the responder closes a connection without KEEP_CONN');
    const end5 = records.find((r) => r.type === FCGI_END_REQUEST && r.id === 5);
    assert.equal(end5?.content[4], FCGI_UNKNOWN_ROLE);
    const out = records.find((r) => r.type === FCGI_STDOUT && r.id === 6);
    assert.equal(out?.content.toString(), 'Content-Type: text/plain\r\n\r\nok');
    const end6 = records.find((r) => r.type === FCGI_END_REQUEST && r.id === 6);
    assert.equal(end6?.content.readUInt32BE(0), 3);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.has('HTTP_PROXY'), false);
    assert.equal(seen[0]!.get('REQUEST_METHOD'), 'GET');
  } finally {
    await l.close();
  }
});

test('ABORT_REQUEST aborts the handler signal and ends the request at once', { timeout: 10_000 }, async () => {
  let aborted = false;
  const l = await listenResponder({
    onRequest(r) {
      r.signal.addEventListener('abort', () => {
        aborted = true;
      });
      r.stdout.write('Status: 200\r\n\r\npartial'); // then hangs until aborted
    },
  });
  try {
    const input = Buffer.concat([simpleRequest(1, [['A', 'b']]), encodeRecord(FCGI_ABORT_REQUEST, 1)]);
    const { records } = await rawExchange(l.port, input, ended(1));
    assert.ok(records.some((r) => r.type === FCGI_END_REQUEST && r.id === 1));
    assert.ok(aborted);
    assert.equal(l.responder.stats().requestsActive, 0);
  } finally {
    await l.close();
  }
});

test('garbage and bad versions close only that connection with one log line; the next connection works', { timeout: 10_000 }, async () => {
  const cap = captureLog();
  const l = await listenResponder({ log: cap.log, onRequest: (r) => r.end() });
  try {
    const bad = await rawExchange(l.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), () => false);
    assert.ok(bad.closed);
    const warn = cap.lines.filter((x) => x.msg === 'FastCGI protocol error: closing connection');
    assert.equal(warn.length, 1);
    assert.equal(warn[0]!.code, 'FCGI_BAD_VERSION');
    const ok = await rawExchange(l.port, simpleRequest(1, [['A', 'b']]), ended(1));
    assert.ok(ok.records.some((r) => r.type === FCGI_END_REQUEST));
    assert.equal(l.responder.stats().protocolErrors, 1);
  } finally {
    await l.close();
  }
});

test('CVE-2019-11043 style input (PATH_INFO with %0a, long QUERY_STRING) is data; the connection keeps working', { timeout: 10_000 }, async () => {
  const l = await listenResponder({
    onRequest(r) {
      r.stdout.write(`Status: 404 Not Found\r\n\r\n${r.params.get('PATH_INFO')?.length ?? 0}`);
      r.end();
    },
  });
  try {
    const evil = simpleRequest(1, [
      ['SCRIPT_FILENAME', '/var/www/index.php/PHP_VALUE\nsession.auto_start=1;;;'],
      ['PATH_INFO', '/PHP_VALUE\nsession.auto_start=1;;;?' + '\n'.repeat(10)],
      ['QUERY_STRING', 'Q'.repeat(1800) + '%0a'],
    ]);
    const next = simpleRequest(2, [['PATH_INFO', '/ok']]);
    const { records } = await rawExchange(l.port, Buffer.concat([evil, next]), ended(2));
    assert.match(records.find((r) => r.type === FCGI_STDOUT && r.id === 1)!.content.toString(), /^Status: 404/);
    assert.match(records.find((r) => r.type === FCGI_STDOUT && r.id === 2)!.content.toString(), /\r\n\r\n3$/);
  } finally {
    await l.close();
  }
});

test('an unread request body does not block another request on the same connection', { timeout: 10_000 }, async () => {
  const l = await listenResponder({
    stdinBufferBytes: 16 * 1024,
    onRequest(r) {
      if (r.params.get('WHICH') === 'lazy') return; // never reads stdin, never ends (until the test closes)
      r.stdout.write('Status: 200\r\n\r\nfast');
      r.end();
    },
  });
  try {
    const lazy = Buffer.concat([
      encodeBeginRequest(1, FCGI_RESPONDER, true),
      encodeRecord(FCGI_PARAMS, 1, encodeNameValuePairs([['WHICH', 'lazy']])),
      encodeRecord(FCGI_PARAMS, 1),
      encodeRecord(FCGI_STDIN, 1, Buffer.alloc(8000)), // under the per-request bound
    ]);
    const fast = simpleRequest(2, [['WHICH', 'fast']]);
    const { records } = await rawExchange(l.port, Buffer.concat([lazy, fast]), ended(2));
    assert.ok(records.some((r) => r.type === FCGI_STDOUT && r.id === 2));
  } finally {
    await l.close();
  }
});

test('FCGI_OVERLOADED past maxReqs requests in progress', { timeout: 10_000 }, async () => {
  const l = await listenResponder({
    maxReqs: 1,
    onRequest(r) {
      if (r.params.get('WHICH') === 'hang') return;
      r.end();
    },
  });
  try {
    const input = Buffer.concat([simpleRequest(1, [['WHICH', 'hang']]), simpleRequest(2, [['WHICH', 'quick']])]);
    const { records } = await rawExchange(l.port, input, ended(2));
    assert.equal(records.find((r) => r.type === FCGI_END_REQUEST && r.id === 2)?.content[4], FCGI_OVERLOADED);
    assert.equal(l.responder.stats().overloaded, 1);
  } finally {
    await l.close();
  }
});

test('STDOUT: a thousand 1-byte writes leave as a few records; a 200 kB write arrives whole', { timeout: 10_000 }, async () => {
  const l = await listenResponder({
    onRequest(r) {
      if (r.params.get('WHICH') === 'small') for (let i = 0; i < 1000; i++) r.stdout.write('x');
      else r.stdout.write(Buffer.alloc(200_000, 'y'));
      r.end();
    },
  });
  try {
    for (const [which, maxPieces, size] of [['small', 3, 1000], ['big', 40, 200_000]] as const) {
      const sock = net.connect(l.port, '127.0.0.1');
      let pieces = 0;
      let bytes = 0;
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const dec = new RecordDecoder({
        onStream(type, _id, data) {
          if (type === FCGI_STDOUT && data.length > 0) {
            pieces++;
            bytes += data.length;
          }
        },
        onRecord(type) {
          if (type === FCGI_END_REQUEST) done();
        },
      });
      sock.on('data', (c: Buffer) => dec.push(c));
      sock.write(simpleRequest(1, [['WHICH', which]]));
      await finished;
      sock.destroy();
      assert.equal(bytes, size);
      assert.ok(pieces <= maxPieces, `${which}: ${pieces} STDOUT pieces`);
    }
  } finally {
    await l.close();
  }
});
