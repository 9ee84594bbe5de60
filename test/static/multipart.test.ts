// Multi-range requests over real sockets: 206 multipart/byteranges (RFC 9110 §14.6, §15.3.7.2),
// coalescing, the many-ranges bound, unsatisfiable mixes, If-Range and HEAD; buffered and streamed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { MAX_RANGES } from '../../src/static/range.js';
import { createStaticMount } from '../../src/static/serve.js';
import { parseByteranges, pattern } from './byteranges.js';
import { exchange, makeTree, request, serve, type RawResponse, type Running, type Tree } from './harness.js';

const MID = pattern(40 * 1024); // under the 64 KiB small-file limit: read whole, cached when on
const BIG = pattern(300 * 1024 + 17); // over it: streamed from the descriptor, several chunks
const BIN = 'application/octet-stream';

/** Checks a multipart 206 against `file` and returns the [start, end] of each part, in order. */
function checkParts(r: RawResponse, file: Buffer, type: string): [number, number][] {
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], undefined, 'no top-level Content-Range (§14.4)');
  assert.equal(r.headers['transfer-encoding'], undefined);
  assert.equal(Number(r.headers['content-length']), r.body.length, 'Content-Length equals the bytes received');
  const parts = parseByteranges(r.body, r.headers['content-type']);
  for (const p of parts) {
    assert.equal(p.headers['content-type'], type);
    assert.equal(p.size, file.length);
    assert.ok(p.data.equals(file.subarray(p.start, p.end + 1)), `bytes ${p.start}-${p.end} match the file`);
  }
  return parts.map((p) => [p.start, p.end]);
}

/** Two requests written at once on one connection; the second closes it. Proves the first's framing. */
function pipelined(port: number, first: string, second: string): Promise<Buffer> {
  return exchange(port, `${first}\r\n\r\n${second}\r\nConnection: close\r\n\r\n`, 5000, 'pipelined requests');
}

for (const cache of [true, false]) {
  describe(`multi-range (cache ${cache ? 'on' : 'off'})`, { timeout: 20_000 }, () => {
    let tree: Tree;
    let srv: Running;
    before(async () => {
      tree = makeTree();
      writeFileSync(join(tree.root, 'mid.bin'), MID);
      writeFileSync(join(tree.root, 'big.bin'), BIG);
      srv = await serve(createStaticMount({ root: tree.root, log: silentLogger(), cache: cache ? {} : false }));
    });
    after(async () => {
      await srv?.close();
      tree?.remove();
    });
    const get = (target: string, headers: Record<string, string> = {}, method = 'GET') => request(srv.port, method, target, headers);

    test('two ranges: 206 multipart/byteranges, each part typed and ranged, 200 headers kept', async () => {
      const plain = await get('/digits.txt');
      const r = await get('/digits.txt', { Range: 'bytes=0-2,5-7' });
      assert.deepEqual(checkParts(r, Buffer.from('0123456789'), 'text/plain; charset=utf-8'), [[0, 2], [5, 7]]);
      // §15.3.7: the validators and Cache-Control a 200 would carry.
      for (const name of ['etag', 'last-modified', 'cache-control', 'accept-ranges']) assert.equal(r.headers[name], plain.headers[name], name);
      // The exact framing of RFC 9110 §14.6 / RFC 2046 §5.1.1, byte for byte.
      const b = /boundary=(\S+)$/.exec(r.headers['content-type'] ?? '')?.[1] ?? '';
      const part = (cr: string, data: string): string => `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes ${cr}/10\r\n\r\n${data}`;
      assert.equal(r.body.toString('latin1'), `${part('0-2', '012')}\r\n${part('5-7', '567')}\r\n--${b}--\r\n`);
    });

    test('bytes=0-9,20-29 and ranges across read chunks, from a buffered and a streamed file', async () => {
      for (const [path, file] of [['/mid.bin', MID], ['/big.bin', BIG]] as const) {
        const r1 = await get(path, { Range: 'bytes=0-9,20-29' });
        assert.deepEqual(checkParts(r1, file, BIN), [[0, 9], [20, 29]], path);
        const n = file.length;
        // A last-pos past the end is clamped (§14.1.1); "-1" lies inside the second range and merges;
        // 1000-140000 spans several 64 KiB reads when streamed, and swallows 30000-30000.
        const r2 = await get(path, { Range: `bytes=100-199,${n - 50}-${n + 1000},-1,30000-30000,1000-140000` });
        const want: [number, number][] = n > 140000 ? [[100, 199], [n - 50, n - 1], [1000, 140000]] : [[100, 199], [1000, n - 1]];
        assert.deepEqual(checkParts(r2, file, BIN), want, path);
      }
    });

    test('boundaries differ between responses', async () => {
      const a = await get('/digits.txt', { Range: 'bytes=0-0,2-2' });
      const b = await get('/digits.txt', { Range: 'bytes=0-0,2-2' });
      assert.notEqual(a.headers['content-type'], b.headers['content-type']);
    });

    test('disjoint ranges keep the request order (§15.3.7.2)', async () => {
      assert.deepEqual(checkParts(await get('/big.bin', { Range: 'bytes=200000-200099,0-9,-5' }), BIG, BIN), [[200000, 200099], [0, 9], [BIG.length - 5, BIG.length - 1]]);
    });

    test('overlapping and adjacent ranges are coalesced; one range left is a plain 206', async () => {
      assert.deepEqual(checkParts(await get('/big.bin', { Range: 'bytes=0-9,5-14,40-49,45-,100-200' }), BIG, BIN), [[0, 14], [40, BIG.length - 1]]);
      const one = await get('/digits.txt', { Range: 'bytes=0-4,5-9' });
      assert.equal(one.status, 206);
      assert.equal(one.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(one.headers['content-range'], 'bytes 0-9/10');
      assert.equal(one.body.toString(), '0123456789');
    });

    test(`many ranges: ${MAX_RANGES} are served as parts, one more is ignored (200 whole)`, async () => {
      const specs = (n: number): string => Array.from({ length: n }, (_, i) => `${i * 100}-${i * 100 + 9}`).join(',');
      const at = await get('/big.bin', { Range: `bytes=${specs(MAX_RANGES)}` });
      assert.equal(checkParts(at, BIG, BIN).length, MAX_RANGES);
      const over = await get('/big.bin', { Range: `bytes=${specs(MAX_RANGES + 1)}` });
      assert.equal(over.status, 200);
      assert.ok(over.body.equals(BIG));
      // CVE-2011-3192's shape: the whole file asked for again and again.
      const dos = await get('/big.bin', { Range: `bytes=${Array(200).fill('0-').join(',')}` });
      assert.equal(dos.status, 200);
      assert.equal(dos.body.length, BIG.length);
      const few = await get('/big.bin', { Range: `bytes=${Array(MAX_RANGES).fill('0-').join(',')}` });
      assert.equal(few.status, 206);
      assert.equal(few.headers['content-range'], `bytes 0-${BIG.length - 1}/${BIG.length}`);
      assert.equal(few.body.length, BIG.length, 'overlaps cost one copy of the file');
    });

    test('unsatisfiable ranges are dropped; none left is 416 with bytes */size', async () => {
      const one = await get('/digits.txt', { Range: 'bytes=0-1,100-200' });
      assert.equal(one.status, 206);
      assert.equal(one.headers['content-range'], 'bytes 0-1/10');
      assert.equal(one.body.toString(), '01');
      assert.deepEqual(checkParts(await get('/digits.txt', { Range: 'bytes=2-3,100-,5-6,-0' }), Buffer.from('0123456789'), 'text/plain; charset=utf-8'), [[2, 3], [5, 6]]);
      const none = await get('/digits.txt', { Range: 'bytes=100-,200-300,-0' });
      assert.equal(none.status, 416);
      assert.equal(none.headers['content-range'], 'bytes */10');
    });

    test('If-Range: a matching ETag gets the parts, another tag the whole file with 200', async () => {
      const etag = (await get('/big.bin')).headers.etag ?? '';
      checkParts(await get('/big.bin', { Range: 'bytes=0-9,20-29', 'If-Range': etag }), BIG, BIN);
      const stale = await get('/big.bin', { Range: 'bytes=0-9,20-29', 'If-Range': '"other"' });
      assert.equal(stale.status, 200);
      assert.ok(stale.body.equals(BIG));
    });

    test('HEAD ignores Range (GET is the only method with range handling, §14.2): 200 headers, no body', async () => {
      const g = await get('/big.bin');
      const h = await get('/big.bin', { Range: 'bytes=0-9,20-29' }, 'HEAD');
      assert.equal(h.status, 200);
      assert.equal(h.body.length, 0);
      for (const name of ['content-type', 'content-length', 'etag', 'last-modified', 'cache-control', 'accept-ranges']) assert.equal(h.headers[name], g.headers[name], name);
    });

    test('the connection stays usable after a multipart 206: the next response follows exactly', async () => {
      for (const path of ['/mid.bin', '/big.bin']) {
        const raw = await pipelined(srv.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nRange: bytes=1-3,-4`, 'GET /hello.txt HTTP/1.1\r\nHost: x');
        const headEnd = raw.indexOf('\r\n\r\n');
        const head = raw.subarray(0, headEnd).toString('latin1');
        assert.match(head, /^HTTP\/1\.1 206 /);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
        const second = raw.subarray(headEnd + 4 + length).toString('latin1');
        assert.match(second, /^HTTP\/1\.1 200 /, path);
        assert.ok(second.endsWith('\r\n\r\nhello, static world\n'), path);
      }
    });
  });
}
