// The light Request through a real pool: handlers see the same method, URL, headers and body under --fetch-objects light and standard.
//
// Resident workers give handlers a light Request by default (app/light-request) and the platform
// one with `--fetch-objects standard`. Handler fixtures are test/fixtures/cgi-bin/lreq-*.mjs,
// copied into the pool's cgi-bin; requests are FastCGI (spec §5.1 FCGI_RESPONDER) from the tests'
// own client, with the meta-variables a web server would pass (RFC 3875 §4.1). The proxying
// fixture fetches from a node:http server started here on 127.0.0.1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fcgiRequest, type FcgiResult } from './fcgi-client.js';
import { killAllPools, PoolProcess, scriptParams, startPoolWithFixtures } from './harness.js';



/** A node:http server on 127.0.0.1 that records each request it gets and answers 'up <method> <url>'. */
interface Upstream {
  readonly port: number;
  readonly seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.end(`up ${req.method} ${req.url}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

let light: PoolProcess;
let standard: PoolProcess;

before(async () => {
  [light, standard] = await Promise.all([startPoolWithFixtures('lreq-', []), startPoolWithFixtures('lreq-', ['--fetch-objects', 'standard'])]);
});

after(async () => {
  await Promise.all([light?.close(), standard?.close()]);
  await killAllPools();
});

function ask(pool: PoolProcess, name: string, params: Record<string, string> = {}, stdin?: string, query = ''): Promise<FcgiResult> {
  return fcgiRequest(pool.address, { ...scriptParams(pool.cgiBin, name, query), ...params }, stdin === undefined ? {} : { stdin });
}

/**
 * The CGI response (RFC 3875 §6) without its Content-Length: whether a platform Response gets one
 * depends on the writer's timing (see the Content-Length test at the end), not on the Request.
 */
function withoutLength(r: FcgiResult): string {
  return r.stdout.replace(/^content-length: \d+\r\n/im, '');
}

/** The same request to both pools; asserts both answered cleanly with the same response; returns the light answer. */
async function same(name: string, params: Record<string, string> = {}, stdin?: string, query = ''): Promise<FcgiResult> {
  const [l, s] = [await ask(light, name, params, stdin, query), await ask(standard, name, params, stdin, query)];
  assert.equal(withoutLength(l), withoutLength(s), `${name} ${JSON.stringify(params)}: light and standard answer the same`);
  for (const r of [l, s]) {
    assert.equal(r.appStatus, 0, r.stdout + r.stderr);
    assert.equal(r.protocolStatus, 0);
    assert.equal(r.stderr, '');
  }
  return l;
}

interface Echo {
  method: string; url: string; echo: string | null; contentType: string | null; contentLength: string | null;
  headers: Array<[string, string]>; bodyUsedBefore: boolean; body: string; bodyHex: string; bodyUsed: boolean;
}

test('method, url, a header and a POST body read with text() are the same from light and standard pools', { timeout: 30_000 }, async () => {
  const body = 'h\u00e9llo \u2713 body\r\nline 2 & a=1';
  const r = await same('lreq-echo.mjs', { REQUEST_METHOD: 'POST', CONTENT_TYPE: 'text/plain;charset=utf-8', HTTP_X_ECHO: 'echoed \u00e9', HTTP_HOST: 'app.example:8080' }, body, 'a=1&b=%20c');
  assert.equal(r.status, 200);
  const got = JSON.parse(r.body) as Echo;
  assert.equal(got.method, 'POST');
  assert.equal(got.url, 'http://app.example:8080/fcgi-bin/lreq-echo.mjs?a=1&b=%20c');
  assert.equal(got.echo, 'echoed \u00e9');
  assert.equal(got.contentType, 'text/plain;charset=utf-8');
  assert.equal(got.contentLength, String(Buffer.byteLength(body)));
  assert.equal(got.body, body);
  assert.equal(got.bodyHex, Buffer.from(body).toString('hex'), 'the body bytes, exactly');
  assert.equal(got.bodyUsedBefore, false);
  assert.equal(got.bodyUsed, true);
  assert.deepEqual(got.headers.find(([n]) => n === 'x-echo'), ['x-echo', 'echoed \u00e9']);
});

test('GET, lowercase methods, an extension method, and URLs rebuilt from the meta-variables answer alike', { timeout: 30_000 }, async () => {
  const cases: Array<[Record<string, string>, string, string]> = [
    [{ REQUEST_METHOD: 'GET', HTTP_ACCEPT: 'text/html, */*;q=0.1' }, 'GET', 'http://localhost/fcgi-bin/lreq-echo.mjs'],
    [{ REQUEST_METHOD: 'get' }, 'GET', 'http://localhost/fcgi-bin/lreq-echo.mjs'],
    [{ REQUEST_METHOD: 'PURGE' }, 'PURGE', 'http://localhost/fcgi-bin/lreq-echo.mjs'],
    [{ REQUEST_METHOD: 'GET', HTTP_HOST: '[::1]:8443', HTTPS: 'on' }, 'GET', 'https://[::1]:8443/fcgi-bin/lreq-echo.mjs'],
    [{ REQUEST_METHOD: 'GET', HTTP_HOST: '', SERVER_NAME: 'srv.example', SERVER_PORT: '8081' }, 'GET', 'http://srv.example:8081/fcgi-bin/lreq-echo.mjs'],
    [{ REQUEST_METHOD: 'GET', REQUEST_URI: '/fcgi-bin/x/../lreq-echo.mjs/%7Ea?q=%C3%A9' }, 'GET', 'http://localhost/fcgi-bin/lreq-echo.mjs/%7Ea?q=%C3%A9'],
  ];
  for (const [params, method, url] of cases) {
    const got = JSON.parse((await same('lreq-echo.mjs', params)).body) as Echo;
    assert.equal(got.method, method, JSON.stringify(params));
    assert.equal(got.url, url, JSON.stringify(params));
    assert.equal(got.body, '');
    assert.equal(got.bodyUsed, false, 'a request without body never reads as used');
  }
  // Method and URL alone (the light request never builds the platform one here).
  for (const method of ['GET', 'post', 'PROPFIND', 'Options']) {
    const r = await same('lreq-method.mjs', { REQUEST_METHOD: method, HTTP_HOST: 'h.example' }, undefined, 'q=1');
    assert.equal(r.body, `${method === 'post' ? 'POST' : method === 'Options' ? 'OPTIONS' : method} http://h.example/fcgi-bin/lreq-method.mjs?q=1\n`);
  }
  // A lowercase post with a body (the body is attached: only GET and HEAD go without).
  const post = JSON.parse((await same('lreq-echo.mjs', { REQUEST_METHOD: 'post', CONTENT_TYPE: 'application/x-www-form-urlencoded' }, 'k=v')).body) as Echo;
  assert.deepEqual([post.method, post.body, post.contentType], ['POST', 'k=v', 'application/x-www-form-urlencoded']);
});

test('the handler request is an instance of the global Request, tagged Request, with a signal', { timeout: 30_000 }, async () => {
  for (const pool of [light, standard]) {
    const got = JSON.parse((await ask(pool, 'lreq-kind.mjs')).body) as Record<string, unknown>;
    assert.equal(got['instanceOfRequest'], true);
    assert.equal(got['tag'], '[object Request]');
    assert.equal(got['globalName'], 'Request');
    assert.equal(got['signal'], true);
    assert.equal(got['bodyNull'], true);
  }
});

test(
  'request.constructor is the global Request in both pools',
  { timeout: 30_000 },
  async () => {
    await same('lreq-kind.mjs');
    const got = JSON.parse((await ask(light, 'lreq-kind.mjs')).body) as Record<string, unknown>;
    assert.equal(got['constructorName'], 'Request');
    assert.equal(got['constructorIsRequest'], true);
  },
);

test('proxying: fetch(request), fetch(new Request(request)) and fetch(new Request(upstream, request)) send the same request upstream', { timeout: 30_000 }, async () => {
  const up = await startUpstream();
  try {
    const body = 'proxied \u00e9 \u2713';
    for (const how of ['direct', 'copy', 'init']) {
      const query = `how=${how}&port=${up.port}`;
      const params = { REQUEST_METHOD: 'PUT', CONTENT_TYPE: 'text/plain', HTTP_X_ECHO: how, HTTP_HOST: `127.0.0.1:${up.port}` };
      const before = up.seen.length;
      const r = await same('lreq-proxy.mjs', params, body, query);
      const path = how === 'init' ? '/up/init' : `/fcgi-bin/lreq-proxy.mjs?${query}`;
      assert.equal(r.body, `upstream 200: up PUT ${path}\n`, how);
      assert.equal(up.seen.length, before + 2, `${how}: one upstream request per pool`);
      const [l, s] = up.seen.slice(before);
      for (const got of [l!, s!]) {
        assert.equal(got.method, 'PUT', how);
        assert.equal(got.url, path, how);
        assert.equal(got.headers['x-echo'], how);
        assert.equal(got.headers['content-type'], 'text/plain');
        assert.equal(got.body, body, `${how}: the body went upstream`);
      }
      assert.deepEqual(l!.headers, s!.headers, `${how}: the same header fields from both pools`);
    }
    // A GET proxied without body.
    const before = up.seen.length;
    const r = await same('lreq-proxy.mjs', { REQUEST_METHOD: 'GET', HTTP_HOST: `127.0.0.1:${up.port}`, HTTP_X_ECHO: 'get' }, undefined, `how=copy&port=${up.port}`);
    assert.match(r.body, /^upstream 200: up GET \/fcgi-bin\/lreq-proxy\.mjs\?how=copy/);
    assert.deepEqual(up.seen.slice(before).map((x) => [x.method, x.body, x.headers['x-echo']]), [['GET', '', 'get'], ['GET', '', 'get']]);
  } finally {
    await up.close();
  }
});

test(
  'a method Request refuses (TRACE) is answered the same way by both pools',
  { timeout: 30_000 },
  async () => {
    for (const method of ['TRACE', 'CONNECT']) {
      const [l, s] = [await ask(light, 'lreq-method.mjs', { REQUEST_METHOD: method }), await ask(standard, 'lreq-method.mjs', { REQUEST_METHOD: method })];
      assert.equal(s.status, 501, 'the platform Request refuses the method: not implemented for handlers, not a handler failure');
      assert.equal(withoutLength(l), withoutLength(s), method);
      assert.equal(l.appStatus, s.appStatus, method);
    }
  },
);

test(
  "a synchronous handler's platform Response goes out whole, with a Content-Length (standard pool)",
  { timeout: 30_000 },
  async () => {
    await ask(standard, 'lreq-kind.mjs'); // loaded: the next call is synchronous
    const r = await ask(standard, 'lreq-kind.mjs');
    assert.match(r.stdout.slice(0, r.stdout.indexOf('\r\n\r\n')), /^content-length: \d+$/im);
  },
);
