// The light Request (app/light-request): side by side with requestFromCgi(), the platform members it delegates, and the patched Request (fetch: light-request-fetch.test.ts).
//
// installLightRequest() replaces globalThis.Request and globalThis.fetch for this whole process;
// node:test runs each test file in its own process, so only this file sees them. The platform
// class and fetch are captured before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { installLightRequest, lightRequestFromCgi } from '../../src/app/light-request.js';
import { requestFromCgi, type CgiEnv } from '../../src/app/handler.js';

const Std = globalThis.Request;
const stdFetch = globalThis.fetch;
installLightRequest();
installLightRequest(); // twice: a no-op the second time
const Patched = globalThis.Request;

/** A fresh CGI body stream (stdin) holding `bytes`. */
function stdin(bytes: string | Uint8Array): Readable {
  return Readable.from([Buffer.from(bytes)]);
}

/** The same request built both ways, each with its own body stream. */
function both(env: CgiEnv, body: string | Uint8Array | null = null): [Request, Request] {
  return [lightRequestFromCgi(env, body === null ? null : stdin(body)), requestFromCgi(env, body === null ? null : stdin(body))];
}

/** The value a getter returns, or the class and message it throws. */
function thrown(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (err) {
    return `${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
}

/** A POST with a body: the meta-variables a server passes for `body` (RFC 3875 §4.1.2, §4.1.3). */
function post(body: string | Uint8Array, contentType = 'text/plain;charset=utf-8', extra: Record<string, string> = {}): CgiEnv {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  return { REQUEST_METHOD: 'POST', HTTP_HOST: 'example.com', REQUEST_URI: '/submit', CONTENT_TYPE: contentType, CONTENT_LENGTH: String(length), ...extra };
}

const GET: CgiEnv = { REQUEST_METHOD: 'GET', HTTP_HOST: 'example.com', REQUEST_URI: '/page?x=1', QUERY_STRING: 'x=1', HTTP_ACCEPT: 'text/html' };

/** Meta-variable sets (RFC 3875 §4.1) covering method, URL and header reconstruction. */
const TABLE: ReadonlyArray<[string, CgiEnv]> = [
  ['plain GET with query', GET],
  ['lowercase get', { ...GET, REQUEST_METHOD: 'get' }],
  ['lowercase post, no body given', { ...GET, REQUEST_METHOD: 'post', CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '0' }],
  ['mixed-case Delete', { ...GET, REQUEST_METHOD: 'Delete' }],
  ['options', { ...GET, REQUEST_METHOD: 'options' }],
  ['head', { ...GET, REQUEST_METHOD: 'head' }],
  ['put', { ...GET, REQUEST_METHOD: 'put' }],
  ['extension method PURGE', { ...GET, REQUEST_METHOD: 'PURGE' }],
  ['extension method PROPFIND', { ...GET, REQUEST_METHOD: 'PROPFIND', HTTP_DEPTH: '1' }],
  ['patch stays lowercase (not normalised by Fetch)', { ...GET, REQUEST_METHOD: 'patch' }],
  ['no REQUEST_METHOD at all', { HTTP_HOST: 'example.com', REQUEST_URI: '/' }],
  ['empty env', {}],
  ['percent-encoding kept', { ...GET, REQUEST_URI: '/caf%C3%A9/%7Euser/a%2Fb?q=a%20b&r=%zz&s=%', QUERY_STRING: 'q=a%20b&r=%zz&s=%' }],
  ['raw non-ASCII and spaces get encoded', { ...GET, REQUEST_URI: '/caf\u00e9/a b?q=\u00e9 \u2713', QUERY_STRING: 'q=\u00e9 \u2713' }],
  ['dot segments', { ...GET, REQUEST_URI: '/a/./b/../c/%2e%2E/d/.?z', QUERY_STRING: 'z' }],
  ['fragment-like and odd characters', { ...GET, REQUEST_URI: '/p?a=<b>&c="d"#frag', QUERY_STRING: 'a=<b>&c="d"' }],
  ['IPv6 host with port', { ...GET, HTTP_HOST: '[::1]:8080' }],
  ['IPv6 host, long form', { ...GET, HTTP_HOST: '[2001:DB8:0:0:0:0:0:1]' }],
  ['uppercase host, default port dropped', { ...GET, HTTP_HOST: 'EXAMPLE.com:80' }],
  ['no HTTP_HOST: SERVER_NAME and SERVER_PORT', { REQUEST_METHOD: 'GET', SERVER_NAME: 'srv.example', SERVER_PORT: '8080', REQUEST_URI: '/s?q', QUERY_STRING: 'q' }],
  ['no HTTP_HOST, HTTPS=on, port 443 omitted', { REQUEST_METHOD: 'GET', SERVER_NAME: 'srv.example', SERVER_PORT: '443', HTTPS: 'on', REQUEST_URI: '/tls' }],
  ['no HTTP_HOST, HTTPS=on, port 8443', { REQUEST_METHOD: 'GET', SERVER_NAME: 'srv.example', SERVER_PORT: '8443', HTTPS: 'on', REQUEST_URI: '/tls' }],
  ['empty HTTP_HOST, no SERVER_NAME', { REQUEST_METHOD: 'GET', HTTP_HOST: '', SERVER_PORT: '80', REQUEST_URI: '/e' }],
  ['HTTPS=on with HTTP_HOST', { ...GET, HTTPS: 'on' }],
  ['REQUEST_SCHEME wins over HTTPS', { ...GET, REQUEST_SCHEME: 'https', HTTPS: 'off' }],
  ['REQUEST_SCHEME http with HTTPS=on', { ...GET, REQUEST_SCHEME: 'http', HTTPS: 'on', HTTP_HOST: 'example.com:443' }],
  ['no REQUEST_URI: SCRIPT_NAME + PATH_INFO + QUERY_STRING', { REQUEST_METHOD: 'GET', HTTP_HOST: 'h.example', SCRIPT_NAME: '/fcgi-bin/app.mjs', PATH_INFO: '/extra/p', QUERY_STRING: 'k=v' }],
  ['absolute-form target', { ...GET, REQUEST_URI: 'http://other.example:81/abs?q=1' }],
  ['host that is not plain falls back', { ...GET, HTTP_HOST: 'bad host' }],
  ['host with userinfo', { ...GET, HTTP_HOST: 'u:p@h.example' }],
  ['bare "*" target', { REQUEST_METHOD: 'OPTIONS', HTTP_HOST: 'example.com', REQUEST_URI: '*' }],
  [
    'headers: content type and length, multi-valued, cookies, a value Headers refuses',
    {
      ...GET, REQUEST_METHOD: 'POST',
      CONTENT_TYPE: 'application/x-www-form-urlencoded', CONTENT_LENGTH: '12',
      HTTP_ACCEPT: 'text/html, application/json;q=0.9', HTTP_X_MULTI: 'a, b,c', HTTP_COOKIE: 'a=1; b=2',
      HTTP_ACCEPT_LANGUAGE: 'fr-CH, fr;q=0.9', HTTP_X_SPACED: '  padded  ', HTTP_X_BAD: 'a\nb', HTTP_X_EMPTY: '',
      HTTP_USER_AGENT: 'test/1.0 (caf\u00e9)',
    },
  ],
  ['HTTP_CONTENT_TYPE and CONTENT_TYPE both present', { ...GET, HTTP_CONTENT_TYPE: 'text/old', CONTENT_TYPE: 'text/new', HTTP_CONTENT_LENGTH: '9', CONTENT_LENGTH: '' }],
];

test('installLightRequest: Request and fetch are replaced, named as the platform, and a second call is a no-op', () => {
  assert.notEqual(Patched, Std);
  assert.notEqual(globalThis.fetch, stdFetch);
  assert.equal(Patched.name, 'Request');
  assert.equal(globalThis.fetch.name, 'fetch');
  assert.equal(Object.getPrototypeOf(Patched.prototype), Std.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(globalThis, 'Request')?.enumerable, false);
  installLightRequest();
  assert.equal(globalThis.Request, Patched);
});

test('method, url and headers equal requestFromCgi() over a table of meta-variable sets', () => {
  for (const [what, env] of TABLE) {
    const light = lightRequestFromCgi(env, null);
    let standard: Request | string;
    try {
      standard = requestFromCgi(env, null);
    } catch (err) {
      standard = `${(err as Error).constructor.name}: ${(err as Error).message}`;
    }
    if (typeof standard === 'string') {
      assert.equal(thrown(() => light.url), standard, `${what}: the light url throws as requestFromCgi did`);
      continue;
    }
    assert.equal(light.method, standard.method, `${what}: method`);
    assert.equal(light.url, standard.url, `${what}: url`);
    assert.deepEqual([...light.headers], [...standard.headers], `${what}: headers`);
    // Asked again after the platform Request exists: the same answers.
    void light.signal;
    assert.equal(light.url, standard.url, `${what}: url after build`);
    assert.deepEqual([...light.headers], [...standard.headers], `${what}: headers after build`);
  }
  // A few expectations stated outright, so that both cannot be wrong the same way unnoticed.
  const at = (name: string): Request => lightRequestFromCgi(TABLE.find(([what]) => what === name)![1], null);
  assert.equal(at('lowercase get').method, 'GET');
  assert.equal(at('mixed-case Delete').method, 'DELETE');
  assert.equal(at('extension method PURGE').method, 'PURGE');
  assert.equal(at('patch stays lowercase (not normalised by Fetch)').method, 'patch');
  assert.equal(at('dot segments').url, 'http://example.com/a/d/?z');
  assert.equal(at('IPv6 host with port').url, 'http://[::1]:8080/page?x=1');
  assert.equal(at('no HTTP_HOST: SERVER_NAME and SERVER_PORT').url, 'http://srv.example:8080/s?q');
  assert.equal(at('no HTTP_HOST, HTTPS=on, port 443 omitted').url, 'https://srv.example/tls');
  assert.equal(at('REQUEST_SCHEME wins over HTTPS').url, 'https://example.com/page?x=1');
  assert.equal(at('no REQUEST_URI: SCRIPT_NAME + PATH_INFO + QUERY_STRING').url, 'http://h.example/fcgi-bin/app.mjs/extra/p?k=v');
  const headers = at('headers: content type and length, multi-valued, cookies, a value Headers refuses').headers;
  assert.equal(headers.get('content-type'), 'application/x-www-form-urlencoded');
  assert.equal(headers.get('content-length'), '12');
  assert.equal(headers.get('x-multi'), 'a, b,c');
  assert.equal(headers.get('x-spaced'), 'padded');
  assert.equal(headers.get('x-bad'), null);
  assert.equal(at('HTTP_CONTENT_TYPE and CONTENT_TYPE both present').headers.get('content-type'), 'text/new');
});

test(
  'a method Request refuses (CONNECT, TRACE, empty, not a token) is refused the same way by the light request',
  () => {
    for (const method of ['CONNECT', 'TRACE', 'track', '', 'GE T']) {
      const env = { ...GET, REQUEST_METHOD: method };
      const expected = thrown(() => requestFromCgi(env, null).method);
      assert.match(String(expected), /^TypeError/, method);
      assert.equal(thrown(() => lightRequestFromCgi(env, null).method), expected, `REQUEST_METHOD ${JSON.stringify(method)}`);
    }
  },
);

test('instanceof Request (patched and platform class), toString, and a platform Request from the patched class', () => {
  const light = lightRequestFromCgi(GET, null);
  assert.ok(light instanceof Patched);
  assert.ok(light instanceof Std);
  assert.equal(Object.prototype.toString.call(light), '[object Request]');
  assert.ok(light.headers instanceof Headers);
  const made = new Patched('http://example.com/');
  assert.ok(made instanceof Std);
  assert.ok(new Std('http://example.com/') instanceof Patched);
  const nots: unknown[] = [{}, null, 'x', new Response('r'), Object.create(null), { method: 'GET', url: 'http://x/', headers: new Headers() }];
  nots.forEach((not, i) => assert.equal(not instanceof Patched, false, `not a Request #${i}`));
});

test('headers: the same object on every access, before and after the platform Request exists', async () => {
  const light = lightRequestFromCgi(post('a=1'), stdin('a=1'));
  const h = light.headers;
  assert.equal(light.headers, h);
  h.set('x-added', 'before build');
  h.delete('accept');
  const copy = light.clone();
  assert.equal(copy.headers.get('x-added'), 'before build', 'a field set before the platform Request was built is in it');
  assert.equal(light.headers, h, 'still the same Headers after the build');
  assert.equal(await light.text(), 'a=1');
  assert.equal(light.headers, h);
  assert.equal(await copy.text(), 'a=1');
});

test(
  'a header set after the platform Request was built reaches new Request(light) and clone(), as it does for a platform Request',
  () => {
    const [light, standard] = both(GET);
    for (const r of [light, standard]) {
      void r.signal; // builds the platform Request behind the light one
      r.headers.set('x-late', '1');
    }
    assert.equal(new Patched(standard).headers.get('x-late'), '1', 'the platform');
    assert.equal(standard.clone().headers.get('x-late'), '1', 'the platform');
    assert.equal(new Patched(light).headers.get('x-late'), '1', 'new Request(light)');
    assert.equal(light.clone().headers.get('x-late'), '1', 'light.clone()');
  },
);

test('bodies read alike: text, json, arrayBuffer, blob, formData (urlencoded), bytes', async () => {
  const text = 'h\u00e9llo \u2713';
  let [l, s] = both(post(text), text);
  assert.equal(await l.text(), text);
  assert.equal(await s.text(), text);

  const json = '{"k":[1,"\u00e9",null]}';
  [l, s] = both(post(json, 'application/json'), json);
  assert.deepEqual(await l.json(), { k: [1, '\u00e9', null] });
  assert.deepEqual(await s.json(), { k: [1, '\u00e9', null] });

  const bytes = new Uint8Array([0, 0xff, 0xc3, 0x28, 10]);
  [l, s] = both(post(bytes, 'application/octet-stream'), bytes);
  assert.deepEqual(new Uint8Array(await l.arrayBuffer()), bytes, 'bytes kept, not decoded');
  assert.deepEqual(new Uint8Array(await s.arrayBuffer()), bytes);

  [l, s] = both(post(bytes, 'application/x-thing'), bytes);
  const [lb, sb] = [await l.blob(), await s.blob()];
  assert.equal(lb.type, sb.type);
  assert.equal(lb.type, 'application/x-thing');
  assert.deepEqual(new Uint8Array(await lb.arrayBuffer()), bytes);

  const form = 'a=1&b=caf%C3%A9&a=2&c=x+y';
  [l, s] = both(post(form, 'application/x-www-form-urlencoded'), form);
  for (const r of [l, s]) {
    const fd = await r.formData();
    assert.deepEqual(fd.getAll('a'), ['1', '2']);
    assert.equal(fd.get('b'), 'caf\u00e9');
    assert.equal(fd.get('c'), 'x y');
  }

  type WithBytes = Request & { bytes?: () => Promise<Uint8Array> };
  if (typeof (Std.prototype as WithBytes).bytes === 'function') {
    [l, s] = both(post(bytes), bytes);
    assert.deepEqual(await (l as WithBytes).bytes!(), await (s as WithBytes).bytes!());
  }

  // A lowercase 'post' carries its body too (hasRequestBody only refuses GET and HEAD).
  [l, s] = both({ ...post('lc'), REQUEST_METHOD: 'post' }, 'lc');
  assert.equal(await l.text(), 'lc');
  assert.equal(await s.text(), 'lc');
});

test('a body reads once: bodyUsed, then a TypeError on the second read and on clone()', async () => {
  for (const r of both(post('once'), 'once')) {
    assert.equal(r.bodyUsed, false);
    assert.ok(r.body instanceof ReadableStream);
    assert.equal(await r.text(), 'once');
    assert.equal(r.bodyUsed, true);
    await assert.rejects(r.text(), TypeError);
    await assert.rejects(r.arrayBuffer(), TypeError);
    assert.throws(() => r.clone(), TypeError);
  }
});

test('no body: GET, HEAD, a POST without CONTENT_LENGTH, or no stdin at all', async () => {
  const cases: Array<[CgiEnv, string | null]> = [
    [GET, 'ignored'], [{ ...GET, REQUEST_METHOD: 'HEAD' }, 'ignored'],
    [{ ...GET, REQUEST_METHOD: 'POST' }, 'ignored'], [{ ...GET, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '0' }, ''],
    [post('abc'), null],
  ];
  for (const [env, body] of cases) {
    const [l, s] = both(env, body);
    assert.equal(l.body, null, env['REQUEST_METHOD']);
    assert.equal(s.body, null);
    assert.equal(await l.text(), '');
    assert.equal(l.bodyUsed, false);
  }
});

test(
  "lowercase 'get' with a CONTENT_LENGTH gives a GET without body, like 'GET'",
  async () => {
    const env = { ...GET, REQUEST_METHOD: 'get', CONTENT_LENGTH: '3' };
    const standard = requestFromCgi(env, stdin('abc'));
    assert.equal(standard.method, 'GET');
    assert.equal(standard.body, null);
    const light = lightRequestFromCgi(env, stdin('abc'));
    assert.equal(light.body, null);
    assert.equal(await light.text(), '');
  },
);

test('signal is an AbortSignal, not aborted, the same on each access; other members delegate', () => {
  const [l, s] = both(GET);
  assert.ok(l.signal instanceof AbortSignal);
  assert.equal(l.signal.aborted, false);
  assert.equal(l.signal, l.signal);
  for (const key of ['cache', 'credentials', 'destination', 'integrity', 'keepalive', 'mode', 'redirect', 'referrer', 'referrerPolicy', 'duplex'] as const) {
    assert.equal(thrown(() => (l as unknown as Record<string, unknown>)[key]), thrown(() => (s as unknown as Record<string, unknown>)[key]), key);
  }
});

test('clone() gives a platform Request with an independent copy of the body', async () => {
  const light = lightRequestFromCgi(post('twice \u2713', 'text/plain', { HTTP_X_A: '1' }), stdin('twice \u2713'));
  const c = light.clone();
  assert.ok(c instanceof Patched);
  assert.equal(Object.prototype.toString.call(c), '[object Request]');
  assert.equal(c.method, 'POST');
  assert.equal(c.url, light.url);
  assert.deepEqual([...c.headers], [...light.headers]);
  c.headers.set('x-a', 'changed');
  assert.equal(light.headers.get('x-a'), '1', 'the clone has its own Headers');
  assert.equal(await c.text(), 'twice \u2713');
  assert.equal(light.bodyUsed, false);
  assert.equal(await light.text(), 'twice \u2713');
  assert.equal(c.bodyUsed, true);
});

test('new Request(light) and new Request(light, init) are working platform requests', async () => {
  const [light, standard] = both(post('payload', 'text/plain', { HTTP_X_TRACE: 't1' }), 'payload');
  const copies = [new Patched(light), new Patched(standard)];
  for (const c of copies) {
    assert.ok(c instanceof Std);
    assert.equal(c.method, 'POST');
    assert.equal(c.url, 'http://example.com/submit');
    assert.equal(c.headers.get('x-trace'), 't1');
    assert.equal(await c.text(), 'payload');
  }
  assert.equal(light.bodyUsed, standard.bodyUsed, 'the source reads as used alike');

  const get = lightRequestFromCgi(GET, null);
  const posted = new Patched(get, { method: 'POST', body: 'x' });
  assert.equal(posted.method, 'POST');
  assert.equal(posted.url, 'http://example.com/page?x=1');
  assert.equal(posted.headers.get('accept'), 'text/html');
  assert.equal(await posted.text(), 'x');
  assert.equal(get.bodyUsed, false);

  // A light request as the init of another Request (its members read as a RequestInit).
  const [l2, s2] = both(post('as init', 'text/plain', { HTTP_X_TRACE: 't2' }), 'as init');
  for (const src of [l2, s2]) {
    const r = new Patched('http://upstream.example/u', src as RequestInit);
    assert.equal(r.method, 'POST');
    assert.equal(r.url, 'http://upstream.example/u');
    assert.equal(r.headers.get('x-trace'), 't2');
    assert.equal(await r.text(), 'as init');
  }
});

test('a subclass of the patched Request works and takes a light request as input', async () => {
  class R extends Patched {}
  const r = new R('http://example.com/r');
  assert.ok(r instanceof R);
  assert.ok(r instanceof Patched);
  assert.ok(r instanceof Std);
  const fromLight = new R(lightRequestFromCgi(post('sub'), stdin('sub')));
  assert.ok(fromLight instanceof R);
  assert.equal(fromLight.url, 'http://example.com/submit');
  assert.equal(await fromLight.text(), 'sub');
});

test(
  'instanceof a subclass of Request holds only for its own instances',
  () => {
    class R extends Patched {}
    class RStd extends Std {}
    assert.equal(new Std('http://a/') instanceof RStd, false, 'the platform');
    assert.equal(new Std('http://a/') instanceof R, false);
    assert.equal(new Patched('http://a/') instanceof R, false);
    assert.equal(lightRequestFromCgi(GET, null) instanceof R, false);
  },
);

test('a REQUEST_URI that looks like credentials (//u:p@evil/x) is a path on the Host, in both', () => {
  const env = { REQUEST_METHOD: 'GET', HTTP_HOST: 'example.com', REQUEST_URI: '//u:p@evil/x' };
  const standard = requestFromCgi(env, null);
  const light = lightRequestFromCgi(env, null);
  assert.equal(standard.url, 'http://example.com//u:p@evil/x');
  assert.equal(light.url, standard.url);
  assert.equal(new Patched(light).url, standard.url);
});

test(
  'a network-path REQUEST_URI (//evil/x) is a path on the Host, not another host (RFC 9112 §3.2.1 origin-form)',
  () => {
    const env = { REQUEST_METHOD: 'GET', HTTP_HOST: 'example.com', REQUEST_URI: '//evil/x' };
    for (const r of both(env)) assert.equal(new URL(r.url).host, 'example.com');
  },
);
