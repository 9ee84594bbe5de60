// Integration tests of /cgi-bin/ through the real HTTP front and real children: env, PATH_INFO, every response form.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fetchRaw, parseEnv, fixtureCgiBin, publicDir, type Harness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const T = { timeout: 20_000 };

test('mount: the env table for a GET with a query (Go TestCGIBasicGet)', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi/extra/path?foo=bar&a=b', { headers: { 'X-Custom': 'yes', Cookie: 'c=1' } });
  assert.equal(r.status, 200);
  const env = parseEnv(r.text);
  const want: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: 'GET',
    QUERY_STRING: 'foo=bar&a=b',
    SCRIPT_NAME: '/cgi-bin/test.cgi',
    PATH_INFO: '/extra/path',
    PATH_TRANSLATED: publicDir + '/extra/path',
    SCRIPT_FILENAME: fixtureCgiBin + '/test.cgi',
    DOCUMENT_ROOT: publicDir,
    REQUEST_URI: '/cgi-bin/test.cgi/extra/path?foo=bar&a=b',
    SERVER_NAME: '127.0.0.1',
    SERVER_PORT: String(h.port),
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'forkfast/test',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_HOST: '127.0.0.1',
    SERVER_ADDR: '127.0.0.1',
    REQUEST_SCHEME: 'http',
    REDIRECT_STATUS: '200',
    HTTP_X_CUSTOM: 'yes',
    HTTP_COOKIE: 'c=1',
    HTTP_HOST: `127.0.0.1:${h.port}`,
  };
  for (const [k, v] of Object.entries(want)) assert.equal(env[k], v, k);
  assert.match(env['REMOTE_PORT'] ?? '', /^\d+$/);
  assert.equal(env['CONTENT_LENGTH'], undefined);
  assert.equal(env['CONTENT_TYPE'], undefined);
});

test('mount: the child environment is the meta-variables plus PATH, nothing of the server', T, async () => {
  process.env['FORKFAST_LEAK_CANARY'] = 'leak';
  try {
    const r = await fetchRaw(h.port, '/cgi-bin/test.cgi', { headers: { Proxy: 'http://evil:3128', X_Forwarded_For: 'spoof' } });
    const env = parseEnv(r.text);
    assert.equal(env['FORKFAST_LEAK_CANARY'], undefined);
    assert.equal(env['NODE_EXTRA_CA_CERTS'], undefined);
    assert.equal(env['HOME'], undefined);
    assert.equal(env['HTTP_PROXY'], undefined, 'httpoxy');
    assert.equal(env['HTTP_X_FORWARDED_FOR'], undefined);
    assert.ok(env['PATH']);
    const allowed = /^(HTTP_\w+|GATEWAY_INTERFACE|REQUEST_METHOD|QUERY_STRING|SCRIPT_NAME|PATH_INFO|PATH_TRANSLATED|SCRIPT_FILENAME|DOCUMENT_ROOT|REQUEST_URI|SERVER_\w+|REMOTE_\w+|REQUEST_SCHEME|REDIRECT_STATUS|PATH|PWD)$/;
    for (const k of Object.keys(env)) assert.match(k, allowed);
  } finally {
    delete process.env['FORKFAST_LEAK_CANARY'];
  }
});

test('mount: repeated request headers are joined (Go TestDupHeaders)', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi', { headers: { Cookie: ['nom=NOM', 'yum=YUM'], 'X-Foo': ['val1', 'val2'] } });
  const env = parseEnv(r.text);
  assert.equal(env['HTTP_COOKIE'], 'nom=NOM; yum=YUM');
  assert.equal(env['HTTP_X_FOO'], 'val1, val2');
});

test('mount: scripts in subdirectories, PATH_INFO "/" and encoded slashes in PATH_INFO; cwd is the script directory', T, async () => {
  let env = parseEnv((await fetchRaw(h.port, '/cgi-bin/sub/deep.cgi/a%2Fb/c')).text);
  assert.equal(env['SCRIPT_NAME'], '/cgi-bin/sub/deep.cgi');
  assert.equal(env['PATH_INFO'], '/a/b/c');
  assert.equal(env['PWD'], fixtureCgiBin + '/sub');
  env = parseEnv((await fetchRaw(h.port, '/cgi-bin/sub/deep.cgi/')).text);
  assert.equal(env['PATH_INFO'], '/');
  env = parseEnv((await fetchRaw(h.port, '/cgi-bin/sub/deep.cgi/../../../etc/passwd')).text);
  assert.equal(env['PATH_TRANSLATED'], 'unset', 'never outside the document root');
});

test('mount: refusals: traversal, dotfiles, symlink escape, source disclosure, directories', T, async () => {
  for (const [path, status] of [
    ['/cgi-bin/%2e%2e/outside.cgi', 403],
    ['/cgi-bin/.hidden.cgi', 403],
    ['/cgi-bin/escape.cgi', 403],
    ['/cgi-bin/noexec.cgi', 403],
    ['/cgi-bin/sub', 403],
    ['/cgi-bin/sub%2Fdeep.cgi', 403],
    ['/cgi-bin/missing.cgi', 404],
  ] as const) {
    const r = await fetchRaw(h.port, path);
    assert.equal(r.status, status, path);
    assert.ok(!r.text.includes('SECRET-SOURCE') && !r.text.includes('escaped'), path);
  }
});

test('mount: Status with and without a reason, bare LF, 204', T, async () => {
  let r = await fetchRaw(h.port, '/cgi-bin/test.cgi?status');
  assert.equal(r.status, 418);
  assert.equal(r.statusMessage, 'I am a teapot');
  r = await fetchRaw(h.port, '/cgi-bin/test.cgi?status-noreason');
  assert.equal(r.status, 201);
  assert.equal(r.text, 'created\n');
  r = await fetchRaw(h.port, '/cgi-bin/test.cgi?lf-only');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'lf only\n');
  r = await fetchRaw(h.port, '/cgi-bin/test.cgi?status-204');
  assert.equal(r.status, 204);
  assert.equal(r.body.length, 0);
});

test('mount: local redirect re-dispatches as GET without the body; a loop is 500', T, async () => {
  let r = await fetchRaw(h.port, '/cgi-bin/test.cgi?local-redirect', { method: 'POST', body: 'abc', headers: { 'content-type': 'text/plain' } });
  assert.equal(r.status, 200);
  assert.equal(r.text, 'redirected method=GET query=redirected length=unset uri=/cgi-bin/test.cgi?redirected\n');
  r = await fetchRaw(h.port, '/cgi-bin/test.cgi?loop');
  assert.equal(r.status, 500);
});

test('mount: client redirects: 302 by default, the script status when set; a local Location with fields is a client redirect', T, async () => {
  let r = await fetchRaw(h.port, '/cgi-bin/test.cgi?client-redirect');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'http://example.com/x');
  r = await fetchRaw(h.port, '/cgi-bin/test.cgi?client-redirect-301');
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'http://example.com/y');
  r = await fetchRaw(h.port, '/cgi-bin/test.cgi?local-with-fields');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, '/elsewhere');
  assert.equal(r.headers['x-extra'], '1');
});

test('mount: a document without Content-Type is sent as is, with nosniff (decision, see response-writer)', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?no-type');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], undefined);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.text, 'no type\n');
});

test('mount: hop-by-hop fields from the script are dropped; repeated fields kept; the request id is not forgeable', T, async () => {
  let r = await fetchRaw(h.port, '/cgi-bin/test.cgi?hop');
  assert.equal(r.text, 'hop\n');
  assert.equal(r.headers['keep-alive'], undefined);
  assert.equal(r.headers['upgrade'], undefined);
  assert.equal(r.headers['x-private'], undefined, 'named by the script Connection field');
  assert.equal(r.headers['x-kept'], 'yes');
  r = await fetchRaw(h.port, '/cgi-bin/test.cgi?multi');
  assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(r.headers['x-multi'], 'one, two');
  assert.notEqual(r.headers['x-request-id'], 'forged');
});

test('mount: Content-Length from the script is enforced', T, async () => {
  let r = await fetchRaw(h.port, '/cgi-bin/test.cgi?cl-exact');
  assert.equal(r.text, '0123456789');
  r = await fetchRaw(h.port, '/cgi-bin/test.cgi?cl-long');
  assert.equal(r.headers['content-length'], '5');
  assert.equal(r.text, '01234');
  // Nothing sent yet (the whole answer was collected): a 502, and the access log says so.
  r = await fetchRaw(h.port, '/cgi-bin/test.cgi?cl-short');
  assert.equal(r.status, 502);
  const id = r.headers['x-request-id'];
  await new Promise((resolve) => setTimeout(resolve, 50));
  const access = h.logs().find((l) => l['msg'] === 'request' && l['reqId'] === id);
  assert.equal(access?.['status'], 502);
  assert.equal(h.logs().filter((l) => l['reqId'] === id && l['msg'] === 'script body did not match its response').length, 1);
  // Part of the body already sent (streamed): the connection is cut, the log line tells the truth.
  await assert.rejects(fetchRaw(h.port, '/cgi-bin/test.cgi?cl-short-slow'), 'a short body aborts the connection');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const cut = h.logs().filter((l) => l['msg'] === 'request' && String(l['path']).endsWith('cl-short-slow')).at(-1);
  assert.equal(cut?.['completed'], false);
  assert.ok(Number(cut?.['bytes']) > 0, 'the bytes that went out are counted');
});

test('mount: every malformed output gives 502 and one log line naming the script', T, async () => {
  const modes = ['bad-no-blank', 'bad-no-colon', 'bad-status', 'bad-status-range', 'bad-cr', 'bad-nul', 'bad-fold', 'bad-name', 'bad-cl', 'bad-huge', 'bad-empty', 'bad-exit'];
  // A script that wrote nothing is not malformed: the line says it ended without a response, and how.
  const silent: Record<string, number> = { 'bad-empty': 0, 'bad-exit': 3 };
  for (const mode of modes) {
    const r = await fetchRaw(h.port, `/cgi-bin/test.cgi?${mode}`);
    assert.equal(r.status, 502, mode);
    assert.ok(!r.text.includes('Injected') && r.headers['injected'] === undefined, mode);
    const id = r.headers['x-request-id'];
    const msg = mode in silent ? 'script ended without writing a response' : 'malformed script response';
    const lines = h.logs().filter((l) => l['reqId'] === id && l['msg'] === msg);
    assert.equal(lines.length, 1, mode);
    assert.equal(lines[0]?.['script'], '/cgi-bin/test.cgi');
    if (mode in silent) {
      assert.equal(lines[0]?.['exitCode'], silent[mode], mode);
      assert.match(r.text, /ended without writing a response/, mode);
    }
  }
});

test('mount: a script that cannot be started is 502 with a log line saying why', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/bad-shebang.cgi');
  assert.equal(r.status, 502);
  const line = h.logs().find((l) => l['reqId'] === r.headers['x-request-id'] && l['msg'] === 'script could not be started');
  assert.ok(line, 'log line');
  assert.match(String((line['err'] as { message?: string } | undefined)?.message), /interpreter/);
});

test('mount: an executable that is no program (exec format error) is 502 with a log line, never run through a shell', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/noformat.cgi');
  assert.equal(r.status, 502);
  const line = h.logs().find((l) => l['reqId'] === r.headers['x-request-id'] && (l['msg'] === 'script could not be started' || l['msg'] === 'malformed script response'));
  assert.ok(line, 'one log line naming the script');
  assert.equal(line['script'], '/cgi-bin/noformat.cgi');
});

test('mount: NPH output goes to the client as written', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/nph-test.cgi?q');
  assert.equal(r.status, 299);
  assert.equal(r.statusMessage, 'Custom NPH');
  assert.equal(r.headers['x-nph'], 'yes');
  assert.equal(r.text, 'nph body q\n');
});

test('mount: HEAD sends no body', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?cl-exact', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], '10');
  assert.equal(r.body.length, 0);
});

test('mount: stderr goes to the log line by line with the script and request id, never into the body', T, async () => {
  const r = await fetchRaw(h.port, '/cgi-bin/test.cgi?stderr');
  assert.equal(r.text, 'ok\n');
  const id = r.headers['x-request-id'];
  const lines = h.logs().filter((l) => l['reqId'] === id && l['msg'] === 'script stderr');
  assert.deepEqual(lines.map((l) => l['line']), ['first line', 'second line']);
  assert.ok(lines.every((l) => l['script'] === '/cgi-bin/test.cgi'));
});

test('mount: handler modules run in a fresh Node process: Request, env, body, Set-Cookie, errors', T, async () => {
  let r = await fetchRaw(h.port, '/cgi-bin/mod.mjs/info?x=1', { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain', 'x-t': 'v' } });
  assert.equal(r.status, 200);
  const j = JSON.parse(r.text) as Record<string, unknown>;
  assert.equal(j['method'], 'POST');
  assert.equal(j['url'], `http://127.0.0.1:${h.port}/cgi-bin/mod.mjs/info?x=1`);
  assert.equal(j['bodyLength'], 5);
  assert.equal(j['pathInfo'], '/info');
  assert.equal((j['headers'] as Record<string, string>)['x-t'], 'v');
  assert.deepEqual(r.headers['set-cookie'], ['m=1', 'n=2']);
  const keys = (await fetchRaw(h.port, '/cgi-bin/mod.mjs?env-keys')).text.split('\n').filter(Boolean);
  assert.ok(!keys.includes('NODE_EXTRA_CA_CERTS') && !keys.includes('HOME') && keys.includes('PATH'));
  r = await fetchRaw(h.port, '/cgi-bin/mod.mjs?throw');
  assert.equal(r.status, 500);
  assert.ok(!r.text.includes('on purpose'), 'no details to the client');
  assert.ok(h.logs().some((l) => l['reqId'] === r.headers['x-request-id'] && String(l['line']).includes('on purpose')));
  r = await fetchRaw(h.port, '/cgi-bin/mod.mjs?redirect');
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'http://example.com/r');
  r = await fetchRaw(h.port, '/cgi-bin/fn.mjs', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 0);
});
