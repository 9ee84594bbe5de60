// The light Request (app/light-request) handed to fetch(): a node:http server on 127.0.0.1 sees what requestFromCgi() would send.
//
// installLightRequest() replaces globalThis.Request and globalThis.fetch for this whole process;
// node:test runs each test file in its own process, so only this file sees them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { installLightRequest, lightRequestFromCgi } from '../../src/app/light-request.js';
import { requestFromCgi, type CgiEnv } from '../../src/app/handler.js';

installLightRequest();
const Patched = globalThis.Request;

/** A fresh CGI body stream (stdin) holding `bytes`. */
function stdin(bytes: string | Uint8Array): Readable {
  return Readable.from([Buffer.from(bytes)]);
}

/** The same request built both ways, each with its own body stream. */
function both(env: CgiEnv, body: string | Uint8Array | null = null): [Request, Request] {
  return [lightRequestFromCgi(env, body === null ? null : stdin(body)), requestFromCgi(env, body === null ? null : stdin(body))];
}

/** A POST with a body: the meta-variables a server passes for `body` (RFC 3875 §4.1.2, §4.1.3). */
function post(body: string | Uint8Array, contentType: string, extra: Record<string, string> = {}): CgiEnv {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  return { REQUEST_METHOD: 'POST', HTTP_HOST: 'example.com', REQUEST_URI: '/submit', CONTENT_TYPE: contentType, CONTENT_LENGTH: String(length), ...extra };
}

const GET: CgiEnv = { REQUEST_METHOD: 'GET', HTTP_HOST: 'example.com', REQUEST_URI: '/page?x=1', QUERY_STRING: 'x=1', HTTP_ACCEPT: 'text/html' };

/** A node:http server on 127.0.0.1 that records each request it gets and answers 'up'. */
async function recorder(): Promise<{ port: number; seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>; close: () => Promise<void> }> {
  const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('latin1') });
      res.end('up');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

test('fetch(light) sends method, path, headers and body to the server the request names', { timeout: 20_000 }, async () => {
  const up = await recorder();
  try {
    const body = Buffer.from([0x68, 0xc3, 0xa9, 0x00, 0xff]);
    const env = { ...post(body, 'application/octet-stream', { HTTP_X_PROXY: 'yes' }), REQUEST_METHOD: 'PUT', HTTP_HOST: `127.0.0.1:${up.port}`, REQUEST_URI: '/up/p%20q?x=1' };
    const [light, standard] = both(env, body);
    for (const r of [light, standard]) {
      const res = await fetch(r);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'up');
    }
    assert.equal(up.seen.length, 2);
    const [l, s] = up.seen;
    for (const got of [l!, s!]) {
      assert.equal(got.method, 'PUT');
      assert.equal(got.url, '/up/p%20q?x=1');
      assert.equal(got.headers['x-proxy'], 'yes');
      assert.equal(got.headers['content-type'], 'application/octet-stream');
      assert.equal(got.body, body.toString('latin1'));
    }
    assert.deepEqual(l!.headers, s!.headers, 'the same header fields from both');
    assert.equal(light.bodyUsed, standard.bodyUsed);

    // A GET, and fetch(light, init) overriding the method and body.
    const get = lightRequestFromCgi({ ...GET, HTTP_HOST: `127.0.0.1:${up.port}`, REQUEST_URI: '/g' }, null);
    assert.equal(await (await fetch(get)).text(), 'up');
    assert.equal(await (await fetch(get, { method: 'POST', body: 'over' })).text(), 'up');
    // A string still works through the patched fetch.
    assert.equal(await (await fetch(`http://127.0.0.1:${up.port}/plain`)).text(), 'up');
    assert.deepEqual(up.seen.slice(2).map((x) => [x.method, x.url, x.body, x.headers['accept']]), [
      ['GET', '/g', '', 'text/html'], ['POST', '/g', 'over', 'text/html'], ['GET', '/plain', '', '*/*'],
    ]);
  } finally {
    await up.close();
  }
});

test('proxying: fetch(new Request(upstream, light)) and fetch(new Request(light)) carry the body', { timeout: 20_000 }, async () => {
  const up = await recorder();
  try {
    const env = post('proxied \u2713', 'text/plain', { HTTP_X_PROXY: 'init', HTTP_HOST: `127.0.0.1:${up.port}`, REQUEST_URI: '/direct' });
    const light = lightRequestFromCgi(env, stdin('proxied \u2713'));
    const res = await fetch(new Patched(`http://127.0.0.1:${up.port}/via-init`, light as RequestInit));
    assert.equal(await res.text(), 'up');
    const again = lightRequestFromCgi(env, stdin('proxied \u2713'));
    assert.equal(await (await fetch(new Patched(again))).text(), 'up');
    assert.deepEqual(up.seen.map((x) => [x.method, x.url, Buffer.from(x.body, 'latin1').toString('utf8'), x.headers['x-proxy']]), [
      ['POST', '/via-init', 'proxied \u2713', 'init'], ['POST', '/direct', 'proxied \u2713', 'init'],
    ]);
  } finally {
    await up.close();
  }
});
