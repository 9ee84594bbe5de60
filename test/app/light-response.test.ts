// The light Response (app/light-response): side by side with the platform Response, lightParts, and the CGI writer.
//
// installLightResponse() replaces globalThis.Response for this whole process; node:test runs each
// test file in its own process, so only this file sees it (nothing to restore).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { installLightResponse, lightParts, StandardResponse } from '../../src/app/light-response.js';
import { sendCgiResponse, type CgiSink } from '../../src/app/handler.js';
import { CgiHeadParser, type CgiHead } from '../../src/cgi/response.js';

const Std = StandardResponse;
installLightResponse();
installLightResponse(); // twice: a no-op the second time
const Light = globalThis.Response;

type Body = ConstructorParameters<typeof Response>[0];

/** The same response built both ways; `body` is a factory for bodies that cannot be shared (streams). */
function both(body: Body | (() => Body), init?: ResponseInit): [Response, Response] {
  const make = (): Body => (typeof body === 'function' ? (body as () => Body)() : body);
  return [new Light(make(), init), new Std(make(), init)];
}

/** Everything a Response shows without reading its body. */
function look(r: Response): Record<string, unknown> {
  return { status: r.status, statusText: r.statusText, ok: r.ok, type: r.type, url: r.url, redirected: r.redirected, bodyUsed: r.bodyUsed, headers: [...r.headers] };
}

/** The class and message a call throws, or 'returned'. */
function thrown(fn: () => unknown): string {
  try {
    fn();
    return 'returned';
  } catch (err) {
    return `${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
}

test('installLightResponse: the global Response is the light class, the platform one stays reachable', () => {
  assert.notEqual(Light, Std);
  assert.equal(Light.name, 'LightResponse');
  assert.equal(Object.getPrototypeOf(Light.prototype), Std.prototype);
  assert.equal(lightParts(new Light('x'))?.body, 'x', 'a plain string response is light');
});

test('status, statusText, ok and headers match the platform (default Content-Type for strings only)', () => {
  const cases: Array<[Body, ResponseInit?]> = [
    [undefined], [null], ['hi'], [''],
    ['x', { status: 201, statusText: 'Created' }], ['x', { status: 404, statusText: 'Not Found' }], ['x', { status: 599 }],
    ['x', { status: 302, headers: { location: '/elsewhere' } }],
    ['<p>', { headers: { 'Content-Type': 'text/html', 'x-a': '1' } }],
    ['x', { headers: [['set-cookie', 'a=1'], ['set-cookie', 'b=2']] }],
    ['x', { headers: new Headers({ 'x-from': 'headers' }) }],
    [new Uint8Array([1, 2, 3])], [new Uint8Array([1, 2, 3]).buffer], [Buffer.from('buf')],
    [null, { status: 204 }], [null, { status: 205 }], [null, { status: 304 }],
    ['x', { statusText: 'caf\u00e9' }],
  ];
  for (const [body, init] of cases) {
    const [l, s] = both(body, init);
    assert.deepEqual(look(l), look(s), `${String(body)} ${JSON.stringify(init)}`);
  }
  assert.equal(new Light('s').headers.get('content-type'), 'text/plain;charset=UTF-8');
  assert.equal(new Light(new Uint8Array([1])).headers.get('content-type'), null);
  assert.equal(new Light(new ArrayBuffer(2)).headers.get('content-type'), null);
  assert.equal(new Light(null).headers.get('content-type'), null);
});

test('bodies read alike: text, json, arrayBuffer, blob, bytes', async () => {
  const bodies: Body[] = ['h\u00e9llo \u2713', '{"a":[1,2]}', new Uint8Array([0x68, 0xc3, 0xa9, 0xff]), new Uint8Array(0), null];
  for (const body of bodies) {
    const what = String(body);
    let [l, s] = both(body);
    assert.equal(await l.text(), await s.text(), what);
    [l, s] = both(body);
    assert.deepEqual(Buffer.from(await l.arrayBuffer()), Buffer.from(await s.arrayBuffer()), what);
    [l, s] = both(body);
    const [lb, sb] = [await l.blob(), await s.blob()];
    assert.equal(lb.type, sb.type, what);
    assert.equal(await lb.text(), await sb.text(), what);
    [l, s] = both(body);
    assert.equal(thrown(() => l.body), thrown(() => s.body));
    assert.equal(l.body === null, s.body === null, what);
    // bytes() arrived in Node 22 (and late 20.x): compared when the platform has it.
    type WithBytes = Response & { bytes?: () => Promise<Uint8Array> };
    if (typeof (Std.prototype as WithBytes).bytes === 'function') {
      [l, s] = both(body);
      assert.deepEqual(await (l as WithBytes).bytes!(), await (s as WithBytes).bytes!(), what);
    }
  }
  const [l, s] = both('{"a":[1,2]}');
  assert.deepEqual(await l.json(), await s.json());
  const [bad, badStd] = both('{nope');
  await assert.rejects(bad.json(), SyntaxError);
  await assert.rejects(badStd.json(), SyntaxError);
});

test('a body reads once: bodyUsed, then a TypeError on the second read and on clone()', async () => {
  for (const r of both('once')) {
    assert.equal(r.bodyUsed, false);
    assert.equal(await r.text(), 'once');
    assert.equal(r.bodyUsed, true);
    await assert.rejects(r.text(), TypeError);
    await assert.rejects(r.arrayBuffer(), TypeError);
    assert.throws(() => r.clone(), TypeError);
    assert.equal(lightParts(r), null);
  }
  // A null body is never "used": it reads as '' again and again, on both.
  for (const r of both(null, { status: 204 })) {
    assert.equal(await r.text(), '');
    assert.equal(r.bodyUsed, false);
    assert.equal(await r.text(), '');
  }
});

test('clone() before reading: two independent copies, whole bodies, own headers', async () => {
  for (const r of both('twice \u2713', { status: 203, statusText: 'Maybe', headers: { 'x-a': '1' } })) {
    const c = r.clone();
    assert.equal(Object.prototype.toString.call(c), '[object Response]');
    assert.ok(c instanceof Light);
    assert.deepEqual(look(c), look(r));
    c.headers.set('x-a', 'changed');
    assert.equal(r.headers.get('x-a'), '1', 'the clone has its own Headers');
    assert.equal(await r.text(), 'twice \u2713');
    assert.equal(c.bodyUsed, false);
    assert.equal(await c.text(), 'twice \u2713');
  }
  // A light response whose platform object exists already (its body stream was asked for).
  for (const r of both('streamed')) {
    assert.ok(r.body !== null);
    const c = r.clone();
    assert.equal(await c.text(), 'streamed');
    assert.equal(await r.text(), 'streamed');
  }
});

test('instanceof Response and toString hold for light, platform and fetch() responses', async () => {
  const light = new Light('x');
  assert.ok(light instanceof Light);
  assert.ok(light instanceof Std);
  assert.equal(light.constructor, Light);
  assert.equal(Object.prototype.toString.call(light), '[object Response]');
  assert.ok(new Std('x') instanceof Light);
  assert.ok(Light.error() instanceof Light);
  assert.ok(Light.json(1) instanceof Light);
  const fetched = await fetch('data:text/plain,hi');
  assert.ok(fetched instanceof Light, 'fetch() results are Responses after install');
  assert.equal(await fetched.text(), 'hi');
  for (const not of [{}, null, 'x', new Request('http://localhost/'), Object.create(null)]) assert.equal(not instanceof Light, false);
});

test('Response.json: Content-Type, status, headers, and the platform errors', async () => {
  const inits: Array<ResponseInit | undefined> = [undefined, { status: 201 }, { status: 422, statusText: 'Bad', headers: { 'x-j': '1' } }, { headers: { 'content-type': 'application/problem+json' } }];
  const values: unknown[] = [{ a: [1, 'b'] }, null, 'str', 0, [], { toJSON: () => 'custom' }];
  for (const init of inits) {
    for (const value of values) {
      const [l, s] = [Light.json(value, init), Std.json(value, init)];
      assert.deepEqual(look(l), look(s), `${JSON.stringify(value)} ${JSON.stringify(init)}`);
      assert.equal(await l.text(), await s.text());
    }
  }
  assert.equal(Light.json({}).headers.get('content-type'), 'application/json');
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  for (const [value, init] of [[undefined], [() => 1], [Symbol('s')], [10n], [cyclic], [{}, { status: 204 }], [{}, { status: 99 }], [{}, { statusText: 'a\nb' }]] as Array<[unknown, ResponseInit?]>) {
    const got = thrown(() => Light.json(value, init));
    assert.equal(got, thrown(() => Std.json(value, init)), String(value));
    assert.match(got, /^(TypeError|RangeError)/, String(value));
  }
  assert.match(thrown(() => Light.json(undefined)), /^TypeError/);
});

/** Response.redirect, loosely typed: the lib's signature asks for a status. */
type Redirect = (url: string | URL, status?: number) => Response;

test('Response.redirect and Response.error are the platform responses', () => {
  const lr = Light.redirect as Redirect;
  const sr = Std.redirect as Redirect;
  assert.deepEqual(look(lr('http://example.com/a')), look(sr('http://example.com/a')));
  assert.equal(lr('http://example.com/a').status, 302);
  assert.deepEqual(look(lr(new URL('http://example.com/b'), 301)), look(sr(new URL('http://example.com/b'), 301)));
  assert.equal(thrown(() => lr('http://example.com/', 200)), thrown(() => sr('http://example.com/', 200)));
  assert.match(thrown(() => lr('http://example.com/', 200)), /^RangeError/);
  assert.equal(thrown(() => lr('/relative')), thrown(() => sr('/relative')));
  assert.match(thrown(() => lr('/relative')), /^TypeError/);
  const e = Light.error();
  assert.deepEqual(look(e), look(Std.error()));
  assert.equal(e.type, 'error');
  assert.equal(e.status, 0);
  assert.equal(lightParts(e), null);
});

test('constructor errors are the platform ones, same class and message', () => {
  const cases: Array<[Body, unknown, string]> = [
    ['x', { status: 99 }, 'RangeError'],
    ['x', { status: 600 }, 'RangeError'],
    ['x', { status: 204 }, 'TypeError'],
    ['x', { status: 205 }, 'TypeError'],
    ['x', { status: 304 }, 'TypeError'],
    [new Uint8Array([1]), { status: 204 }, 'TypeError'],
    ['x', { headers: { 'bad name': '1' } }, 'TypeError'],
    ['x', { headers: { ok: 'bad\nvalue' } }, 'TypeError'],
    ['x', { headers: [['only-a-name']] }, 'TypeError'],
    ['x', { statusText: 'OK\r\nx-injected: 1' }, 'TypeError'],
    ['x', 'not an init', 'TypeError'],
  ];
  for (const [body, init, cls] of cases) {
    const got = thrown(() => new Light(body, init as ResponseInit));
    assert.equal(got, thrown(() => new Std(body, init as ResponseInit)), JSON.stringify(init));
    assert.ok(got.startsWith(cls + ':'), `${JSON.stringify(init)}: ${got}`);
  }
  // Accepted alike: a status the platform converts, a null init.
  for (const init of [{ status: 200.7 }, { status: '201' }, null] as unknown[]) {
    const [l, s] = [new Light('x', init as ResponseInit), new Std('x', init as ResponseInit)];
    assert.deepEqual(look(l), look(s), JSON.stringify(init));
  }
});

test('ReadableStream, Blob, URLSearchParams, FormData and DataView bodies go to the platform and work', async () => {
  const form = (): FormData => {
    const f = new FormData();
    f.set('k', 'v');
    return f;
  };
  const cases: Array<[string, () => Body]> = [
    ['stream', () => new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('str')), c.enqueue(new TextEncoder().encode('eam')), c.close()) })],
    ['blob', () => new Blob(['bl', 'ob'], { type: 'text/x-blob' })],
    ['params', () => new URLSearchParams({ a: '1', b: 'two words' })],
    ['form', form],
    ['dataview', () => new DataView(new TextEncoder().encode('view').buffer)],
  ];
  for (const [what, make] of cases) {
    const [l, s] = both(make);
    const fields = (r: Response): Record<string, unknown> => ({ ...look(r), headers: [...r.headers].map(([n, v]) => [n, v.replace(/boundary=.*/, 'boundary=*')]) });
    assert.deepEqual(fields(l), fields(s), what);
    assert.equal(lightParts(l), null, `${what}: not light`);
    const text = await l.text();
    const expected = await s.text();
    if (what === 'form') assert.match(text, /name="k"\r\n\r\nv\r\n/);
    else assert.equal(text, expected, what);
  }
});

test('byte bodies are copied at construction, as the platform copies them', async () => {
  const u = new TextEncoder().encode('hi');
  const ab = new TextEncoder().encode('hi').buffer;
  const pool = Buffer.from('..hi..');
  const rs = [new Light(u), new Std(u), new Light(ab), new Std(ab), new Light(pool.subarray(2, 4)), new Std(pool.subarray(2, 4))];
  u[0] = 0x41;
  new Uint8Array(ab)[0] = 0x41;
  pool[2] = 0x41;
  for (const r of rs) assert.equal(await r.text(), 'hi');
  const light = new Light(Buffer.from('yo'));
  const parts = lightParts(light);
  assert.ok(parts !== null && parts.body instanceof Uint8Array);
  assert.equal(Buffer.from(parts.body).toString(), 'yo');
});

test('lightParts: the state of an untouched light response, once; null for anything else', async () => {
  const r = new Light('b\u00f6dy', { status: 201, statusText: 'Made', headers: { 'x-early': '1' } });
  // Headers changed after construction are the ones the writer sees.
  r.headers.set('x-late', '2');
  r.headers.delete('x-early');
  r.headers.append('set-cookie', 'a=1');
  const parts = lightParts(r);
  assert.ok(parts !== null);
  assert.equal(parts.status, 201);
  assert.equal(parts.statusText, 'Made');
  assert.equal(parts.body, 'b\u00f6dy');
  assert.equal(parts.headers, r.headers, 'the very Headers object the handler holds');
  assert.deepEqual([...parts.headers], [['content-type', 'text/plain;charset=UTF-8'], ['set-cookie', 'a=1'], ['x-late', '2']]);
  assert.equal(r.bodyUsed, true, 'the writer took the body');
  assert.equal(lightParts(r), null, 'a second call');

  const read = new Light('x');
  await read.text();
  assert.equal(lightParts(read), null, 'a light response whose body was read');
  const streamed = new Light('x');
  void streamed.body;
  assert.equal(lightParts(streamed), null, 'a light response whose stream was asked for');
  assert.equal(lightParts(new Std('x')), null, 'a platform response');
  assert.equal(lightParts(await fetch('data:,x')), null, 'a fetch() response');
  for (const v of [null, undefined, 'x', {}, Object.create(Light.prototype) as unknown]) assert.equal(lightParts(v), null);
  const json = lightParts(Light.json({ a: 1 }, { status: 202 }));
  assert.equal(json?.body, '{"a":1}');
  assert.equal(json?.headers.get('content-type'), 'application/json');
  assert.equal(lightParts(new Light(null, { status: 204 }))?.body, null);
  const clone = new Light('c').clone();
  assert.equal(lightParts(clone)?.body, 'c', 'a clone of an untouched light response is light');
});

/** A CgiSink that keeps what it is given as bytes. */
function sink(): CgiSink & { ends: Buffer[]; streamed: Buffer[]; asked: number } {
  const streamed: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _e, cb) {
      streamed.push(Buffer.from(chunk));
      cb();
    },
  });
  const s = {
    ends: [] as Buffer[],
    streamed,
    asked: 0,
    endWith(data: string | Uint8Array) {
      s.ends.push(typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data));
    },
    get stdout() {
      s.asked++;
      return out;
    },
  };
  return s;
}

/** The whole CGI response sendCgiResponse wrote, parsed back (RFC 3875 §6). */
async function sent(response: Response, head = false): Promise<{ raw: Buffer; head: CgiHead; body: Buffer; asked: number }> {
  const s = sink();
  await sendCgiResponse(response, s, { head });
  const raw = Buffer.concat([...s.streamed, ...s.ends]);
  const p = new CgiHeadParser(65536);
  assert.ok(p.push(raw), raw.toString('latin1'));
  assert.ok(p.result?.ok, raw.toString('latin1'));
  return { raw, head: p.result.head, body: p.rest, asked: s.asked };
}

test('sendCgiResponse on a light response: one piece, Content-Length in bytes, same bytes as the platform path', async () => {
  const text = 'h\u00e9llo w\u00f6rld \u2713\n';
  const init = { status: 201, statusText: 'Made', headers: [['x-a', '1'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']] as [string, string][] };
  const light = await sent(new Light(text, init));
  assert.equal(light.asked, 0, 'no stream was needed');
  assert.equal(light.head.status, 201);
  assert.equal(light.head.reason, 'Made');
  assert.equal(light.head.contentLength, Buffer.byteLength(text));
  assert.equal(light.head.contentType, 'text/plain;charset=UTF-8');
  assert.deepEqual(light.head.fields.filter(([n]) => n === 'set-cookie').map(([, v]) => v), ['a=1', 'b=2']);
  assert.equal(light.body.toString('utf8'), text);
  assert.deepEqual(light.raw, (await sent(new Std(text, init))).raw, 'byte for byte what the platform Response gives');
  // Lone surrogates: the platform makes them U+FFFD (USVString); the light writer's bytes and length agree.
  assert.deepEqual((await sent(new Light('a\ud800b\udc00'))).raw, (await sent(new Std('a\ud800b\udc00'))).raw);

  const bytes = await sent(new Light(new Uint8Array([0, 0xff, 0x80])));
  assert.equal(bytes.head.contentLength, 3);
  assert.deepEqual([...bytes.body], [0, 0xff, 0x80]);
  assert.equal(bytes.head.contentType, null);

  const own = await sent(new Light('abc', { headers: { 'content-length': '3' } }));
  assert.equal(own.raw.toString('latin1').match(/content-length/gi)?.length, 1, "the handler's own Content-Length is kept, not doubled");
  // A light response that became a platform one (its stream was asked for) still goes out right.
  const touched = new Light('touched');
  void touched.body;
  const t = await sent(touched);
  assert.equal(t.head.contentLength, 7);
  assert.equal(t.body.toString(), 'touched');
});

test('sendCgiResponse on a light response: HEAD keeps Content-Length without the body; a null body has none', async () => {
  const text = '\u00e9t\u00e9';
  const r = new Light(text);
  const head = await sent(r, true);
  assert.equal(head.head.contentLength, Buffer.byteLength(text), 'the length the GET would have');
  assert.equal(head.body.length, 0);
  assert.ok(head.raw.toString('latin1').endsWith('\r\n\r\n'));
  assert.equal(r.bodyUsed, true);
  for (const [body, init] of [[null, { status: 204 }], [null, { status: 304 }], [undefined, undefined]] as Array<[Body, ResponseInit?]>) {
    const none = await sent(new Light(body, init));
    assert.equal(none.head.contentLength, null, JSON.stringify(init));
    assert.equal(none.body.length, 0);
    assert.deepEqual(none.raw, (await sent(new Std(body, init))).raw);
  }
});

// Differences from the platform found by these tests and fixed in light-response.ts.

test('after lightParts the body is gone: reads reject and clone() throws, as for a read body', async () => {
  const r = new Light('abc');
  assert.ok(lightParts(r) !== null);
  assert.equal(r.bodyUsed, true);
  await assert.rejects(r.text(), TypeError);
  assert.equal(r.bodyUsed, true, 'bodyUsed does not flip back');
  assert.throws(() => r.clone(), TypeError);
});

test('instanceof a subclass of Response holds only for its own instances', () => {
  class Mine extends Light {}
  class MineStd extends Std {}
  assert.equal(new Std('x') instanceof MineStd, false, 'the platform');
  assert.ok(new Mine('x') instanceof Mine);
  assert.equal(new Light('x') instanceof Mine, false);
  assert.equal(Light.error() instanceof Mine, false);
});

test('a Content-Type deleted after construction stays deleted in clone() and blob().type', async () => {
  for (const r of both('abc')) {
    r.headers.delete('content-type');
    assert.equal(r.clone().headers.get('content-type'), null, r.constructor.name);
    assert.equal((await r.blob()).type, '', r.constructor.name);
  }
});
