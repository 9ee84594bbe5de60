// Unit tests of the handler bridge (app/handler): meta-variables -> Request, Response -> CGI response, module loading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { loadHandler, requestFromCgi, writeCgiResponse } from '../../src/app/handler.js';
import { CgiHeadParser } from '../../src/cgi/response.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/cgi-bin/', import.meta.url));

test('handler: requestFromCgi builds URL, method, headers and body', async () => {
  const env = {
    REQUEST_METHOD: 'POST', REQUEST_URI: '/cgi-bin/x.mjs/p?q=1', HTTP_HOST: 'example.com:8080', HTTP_X_THING: 'a, b',
    CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '5', QUERY_STRING: 'q=1', SERVER_NAME: 'example.com', SERVER_PORT: '8080',
  };
  const req = requestFromCgi(env, Readable.from([Buffer.from('hel'), Buffer.from('lo')]));
  assert.equal(req.method, 'POST');
  assert.equal(req.url, 'http://example.com:8080/cgi-bin/x.mjs/p?q=1');
  assert.equal(req.headers.get('x-thing'), 'a, b');
  assert.equal(req.headers.get('content-type'), 'text/plain');
  assert.equal(await req.text(), 'hello');
});

test('handler: no Host falls back to SERVER_NAME and SERVER_PORT; GET has no body', () => {
  const req = requestFromCgi({ REQUEST_METHOD: 'GET', SCRIPT_NAME: '/cgi-bin/a.mjs', PATH_INFO: '/x', QUERY_STRING: 'k=v', SERVER_NAME: '[::1]', SERVER_PORT: '81' }, new PassThrough());
  assert.equal(req.url, 'http://[::1]:81/cgi-bin/a.mjs/x?k=v');
  assert.equal(req.body, null);
});

async function cgiBytes(response: Response, head = false): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeCgiResponse(response, out, { head });
  out.end();
  return Buffer.concat(chunks).toString();
}

test('handler: writeCgiResponse writes Status, fields, every Set-Cookie, then the body; the parser reads it back', async () => {
  const headers = new Headers({ 'content-type': 'text/plain', 'x-a': '1' });
  headers.append('set-cookie', 'a=1');
  headers.append('set-cookie', 'b=2');
  const text = await cgiBytes(new Response('body!', { status: 201, statusText: 'Made', headers }));
  assert.match(text, /^Status: 201 Made\r\n/);
  assert.ok(text.endsWith('\r\n\r\nbody!'));
  const p = new CgiHeadParser(65536);
  assert.ok(p.push(Buffer.from(text)));
  assert.ok(p.result?.ok);
  const h = p.result.ok ? p.result.head : null;
  assert.equal(h?.status, 201);
  assert.deepEqual(h?.fields.filter(([n]) => n === 'set-cookie').map(([, v]) => v), ['a=1', 'b=2']);
  assert.equal(p.rest.toString(), 'body!');
});

test('handler: HEAD writes the header block only', async () => {
  const text = await cgiBytes(new Response('body', { headers: { 'content-type': 'text/plain' } }), true);
  assert.ok(text.endsWith('\r\n\r\n'));
});

test('handler: loadHandler takes an object with fetch or a function, and refuses anything else', async () => {
  const obj = await loadHandler(fixtures + 'mod.mjs');
  const res = await obj(new Request('http://h/cgi-bin/mod.mjs?x'), { SCRIPT_NAME: '/cgi-bin/mod.mjs' });
  assert.equal(res.status, 200);
  const fn = await loadHandler(fixtures + 'fn.mjs');
  assert.equal(await (await fn(new Request('http://h/', { method: 'DELETE' }), {})).text(), 'fn DELETE\n');
  await assert.rejects(loadHandler(fixtures + 'test.cgi'));
});
