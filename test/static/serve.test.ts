// The static mount over real sockets: MIME, validators and 304, Range, HEAD, directories, 404/405.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { createStaticMount } from '../../src/static/serve.js';
import { makeTree, request, serve, type Running, type Tree } from './harness.js';

for (const cache of [true, false]) {
  describe(`static mount (cache ${cache ? 'on' : 'off'})`, { timeout: 20_000 }, () => {
    let tree: Tree;
    let srv: Running;
    before(async () => {
      tree = makeTree();
      srv = await serve(createStaticMount({ root: tree.root, log: silentLogger(), cache: cache ? {} : false }));
    });
    after(async () => {
      await srv?.close();
      tree?.remove();
    });
    const get = (target: string, headers: Record<string, string> = {}, method = 'GET') => request(srv.port, method, target, headers);

    test('Content-Type with charset for text types, none for binary', async () => {
      const cases: [string, string][] = [
        ['/hello.txt', 'text/plain; charset=utf-8'],
        ['/index.html', 'text/html; charset=utf-8'],
        ['/style.css', 'text/css; charset=utf-8'],
        ['/app.js', 'text/javascript; charset=utf-8'],
        ['/data.json', 'application/json; charset=utf-8'],
        ['/image.png', 'image/png'],
        ['/noext', 'application/octet-stream'],
      ];
      for (const [path, type] of cases) {
        const r = await get(path);
        assert.equal(r.status, 200, path);
        assert.equal(r.headers['content-type'], type, path);
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
      }
    });

    test('200 carries body, length, strong ETag, Last-Modified, Cache-Control, Accept-Ranges', async () => {
      const r = await get('/hello.txt');
      assert.equal(r.body.toString(), 'hello, static world\n');
      assert.equal(r.headers['content-length'], String(r.body.length));
      assert.match(r.headers.etag ?? '', /^"[0-9a-f]+-[0-9a-z]+"$/);
      assert.ok(!Number.isNaN(Date.parse(r.headers['last-modified'] ?? '')));
      assert.equal(r.headers['cache-control'], 'public, max-age=0');
      assert.equal(r.headers['accept-ranges'], 'bytes');
      const again = await get('/hello.txt');
      assert.equal(again.headers.etag, r.headers.etag, 'stable across requests');
    });

    test('304 on If-None-Match (list, weak form, *) and on If-Modified-Since', async () => {
      const first = await get('/hello.txt');
      const etag = first.headers.etag ?? '';
      const lm = first.headers['last-modified'] ?? '';
      for (const inm of [etag, `"nope", ${etag}`, `W/${etag}`, '*']) {
        const r = await get('/hello.txt', { 'If-None-Match': inm });
        assert.equal(r.status, 304, inm);
        assert.equal(r.body.length, 0);
        assert.equal(r.headers.etag, etag);
        assert.equal(r.headers['cache-control'], 'public, max-age=0');
      }
      assert.equal((await get('/hello.txt', { 'If-Modified-Since': lm })).status, 304);
      assert.equal((await get('/hello.txt', { 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 200);
      assert.equal((await get('/hello.txt', { 'If-Modified-Since': 'not a date' })).status, 200);
      assert.equal((await get('/hello.txt', { 'If-None-Match': '"other"' })).status, 200);
    });

    test('If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3)', async () => {
      const lm = (await get('/hello.txt')).headers['last-modified'] ?? '';
      const r = await get('/hello.txt', { 'If-None-Match': '"other"', 'If-Modified-Since': lm });
      assert.equal(r.status, 200, 'a non-matching If-None-Match means the IMS is ignored');
    });

    test('If-Match mismatch and If-Unmodified-Since in the past give 412', async () => {
      const etag = (await get('/hello.txt')).headers.etag ?? '';
      assert.equal((await get('/hello.txt', { 'If-Match': '"other"' })).status, 412);
      assert.equal((await get('/hello.txt', { 'If-Match': etag })).status, 200);
      assert.equal((await get('/hello.txt', { 'If-Unmodified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 412);
    });

    test('Range: 206 with Content-Range, suffix and open ranges, clamped end', async () => {
      const cases: [string, string, string][] = [
        ['bytes=0-3', '0123', 'bytes 0-3/10'],
        ['bytes=5-', '56789', 'bytes 5-9/10'],
        ['bytes=-3', '789', 'bytes 7-9/10'],
        ['bytes=8-100', '89', 'bytes 8-9/10'],
        ['bytes=-100', '0123456789', 'bytes 0-9/10'],
        ['BYTES = 2-2', '2', 'bytes 2-2/10'],
      ];
      for (const [range, body, cr] of cases) {
        const r = await get('/digits.txt', { Range: range });
        assert.equal(r.status, 206, range);
        assert.equal(r.body.toString(), body, range);
        assert.equal(r.headers['content-range'], cr, range);
        assert.equal(r.headers['content-length'], String(body.length), range);
      }
    });

    test('Range: 416 with bytes */size when nothing is satisfiable', async () => {
      for (const range of ['bytes=10-', 'bytes=100-200', 'bytes=-0']) {
        const r = await get('/digits.txt', { Range: range });
        assert.equal(r.status, 416, range);
        assert.equal(r.headers['content-range'], 'bytes */10', range);
      }
    });

    test('Range: bad syntax, other units and HEAD are ignored (200, whole file)', async () => {
      for (const range of ['bytes=5-2', 'bytes=0-1,5-2', 'bytes=abc', 'items=0-1', 'bytes=-']) {
        const r = await get('/digits.txt', { Range: range });
        assert.equal(r.status, 200, range);
        assert.equal(r.body.toString(), '0123456789', range);
      }
      const h = await get('/digits.txt', { Range: 'bytes=0-1' }, 'HEAD');
      assert.equal(h.status, 200);
      assert.equal(h.body.length, 0);
      assert.equal((await get('/empty.txt', { Range: 'bytes=0-' })).status, 200);
    });

    test('If-Range: matching strong ETag honours Range, otherwise the whole file', async () => {
      const etag = (await get('/digits.txt')).headers.etag ?? '';
      assert.equal((await get('/digits.txt', { Range: 'bytes=0-1', 'If-Range': etag })).status, 206);
      assert.equal((await get('/digits.txt', { Range: 'bytes=0-1', 'If-Range': '"other"' })).status, 200);
      assert.equal((await get('/digits.txt', { Range: 'bytes=0-1', 'If-Range': `W/${etag}` })).status, 200, 'weak tags never match If-Range');
      const old = join(tree.root, 'old.txt');
      writeFileSync(old, 'abcdef');
      utimesSync(old, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
      const lm = (await get('/old.txt')).headers['last-modified'] ?? '';
      assert.equal((await get('/old.txt', { Range: 'bytes=1-2', 'If-Range': lm })).status, 206);
      assert.equal((await get('/old.txt', { Range: 'bytes=1-2', 'If-Range': 'Wed, 01 Jan 2020 00:00:01 GMT' })).status, 200);
    });

    test('HEAD: same headers as GET, no body', async () => {
      const g = await get('/hello.txt');
      const h = await get('/hello.txt', {}, 'HEAD');
      assert.equal(h.status, 200);
      assert.equal(h.body.length, 0);
      for (const name of ['content-type', 'content-length', 'etag', 'last-modified', 'cache-control', 'accept-ranges']) assert.equal(h.headers[name], g.headers[name], name);
    });

    test('directories: index.html, 301 adding the slash with the query kept, 404 without index', async () => {
      const root = await get('/');
      assert.equal(root.status, 200);
      assert.match(root.body.toString(), /<title>home<\/title>/);
      assert.equal((await get('/sub/')).body.toString(), '<!doctype html><title>sub</title>\n');
      const r = await get('/sub?x=1&y=2');
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, '/sub/?x=1&y=2');
      assert.equal((await get('/sub')).headers.location, '/sub/');
      assert.equal((await get('/with%20space')).headers.location, '/with%20space/');
      assert.equal((await get('/with%20space/f.txt')).body.toString(), 'spaced\n');
      assert.equal((await get('/noindex/')).status, 404);
      assert.equal((await get('/hello.txt/')).status, 404, 'a file is not a directory');
    });

    test('404 for missing files, 405 with Allow for other methods', async () => {
      const r = await get('/missing.txt');
      assert.equal(r.status, 404);
      assert.match(r.body.toString(), /^404 Not Found\nrequest-id: t-\d+\n$/);
      for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
        const x = await get('/hello.txt', { 'Content-Length': '0' }, m);
        assert.equal(x.status, 405, m);
        assert.equal(x.headers.allow, 'GET, HEAD');
      }
    });

    test('a changed file is served fresh (cache revalidates by size/mtime)', async () => {
      const p = join(tree.root, 'changing.txt');
      writeFileSync(p, 'one');
      const a = await get('/changing.txt');
      assert.equal(a.body.toString(), 'one');
      writeFileSync(p, 'two!');
      // With the cache on, the change shows after the revalidation window (1 s by default).
      if (cache) await new Promise((r) => setTimeout(r, 1100));
      const b = await get('/changing.txt');
      assert.equal(b.body.toString(), 'two!');
      assert.notEqual(b.headers.etag, a.headers.etag);
    });
  });
}
