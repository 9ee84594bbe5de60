// Unit tests of the RFC 3875 meta-variable builder (cgi/env): the table Go's host_test checks, and the traps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMetaVariables, checkExecLimits, splitHost, translatePath, type MetaInput } from '../../src/cgi/env.js';

function input(over: Partial<MetaInput> = {}): MetaInput {
  return {
    method: 'GET',
    target: '/cgi-bin/test.cgi/extra/path?foo=bar&a=b',
    query: 'foo=bar&a=b',
    httpVersion: '1.1',
    rawHeaders: ['Host', 'example.com', 'Accept', 'text/*'],
    remoteAddress: '::ffff:10.0.0.7',
    remotePort: 51234,
    localAddress: '::ffff:127.0.0.1',
    localPort: 8080,
    tls: false,
    script: { scriptName: '/cgi-bin/test.cgi', pathInfo: '/extra/path', filename: '/srv/cgi-bin/test.cgi' },
    documentRoot: '/srv/public',
    serverSoftware: 'forkfast/1',
    contentLength: null,
    passAuthorization: false,
    ...over,
  };
}

test('env: the GET-with-query table (Go host_test TestCGIBasicGet)', () => {
  const env = buildMetaVariables(input({ extra: { PATH: '/usr/bin:/bin' } }));
  assert.deepEqual({ ...env }, {
    HTTP_HOST: 'example.com',
    HTTP_ACCEPT: 'text/*',
    GATEWAY_INTERFACE: 'CGI/1.1',
    PATH_INFO: '/extra/path',
    PATH_TRANSLATED: '/srv/public/extra/path',
    QUERY_STRING: 'foo=bar&a=b',
    REMOTE_ADDR: '10.0.0.7',
    REMOTE_HOST: '10.0.0.7',
    REQUEST_METHOD: 'GET',
    SCRIPT_NAME: '/cgi-bin/test.cgi',
    SERVER_NAME: 'example.com',
    SERVER_PORT: '8080',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'forkfast/1',
    REQUEST_URI: '/cgi-bin/test.cgi/extra/path?foo=bar&a=b',
    SCRIPT_FILENAME: '/srv/cgi-bin/test.cgi',
    DOCUMENT_ROOT: '/srv/public',
    REMOTE_PORT: '51234',
    SERVER_ADDR: '127.0.0.1',
    REQUEST_SCHEME: 'http',
    REDIRECT_STATUS: '200',
    PATH: '/usr/bin:/bin',
  });
  assert.equal(env['CONTENT_LENGTH'], undefined, 'no body: no CONTENT_LENGTH (§4.1.2)');
  assert.equal(env['AUTH_TYPE'], undefined);
});

test('env: no query gives an empty QUERY_STRING, no PATH_INFO gives no PATH_TRANSLATED', () => {
  const env = buildMetaVariables(input({ query: '', script: { scriptName: '/cgi-bin/a', pathInfo: '', filename: '/x/a' } }));
  assert.equal(env['QUERY_STRING'], '');
  assert.equal(env['PATH_INFO'], '');
  assert.equal(env['PATH_TRANSLATED'], undefined);
});

test('env: Host forms: port from Host, IPv6 brackets kept, no Host falls back to the local address', () => {
  assert.deepEqual(splitHost('[::1]:8080'), { name: '[::1]', port: '8080' });
  assert.deepEqual(splitHost('[::1]'), { name: '[::1]', port: null });
  assert.deepEqual(splitHost('example.com:81'), { name: 'example.com', port: '81' });
  assert.deepEqual(splitHost('example.com'), { name: 'example.com', port: null });
  let env = buildMetaVariables(input({ rawHeaders: ['Host', '[::1]:9000'], localAddress: '::1', remoteAddress: '::1' }));
  assert.equal(env['SERVER_NAME'], '[::1]');
  assert.equal(env['SERVER_PORT'], '9000');
  assert.equal(env['REMOTE_ADDR'], '::1');
  env = buildMetaVariables(input({ rawHeaders: [], localAddress: '::1', localPort: 7 }));
  assert.equal(env['SERVER_NAME'], '[::1]');
  assert.equal(env['SERVER_PORT'], '7');
});

test('env: repeated headers are joined, Cookie with "; " (Go TestDupHeaders)', () => {
  const env = buildMetaVariables(input({ rawHeaders: ['Cookie', 'nom=NOM', 'Cookie', 'yum=YUM', 'X-Foo', 'val1', 'x-foo', 'val2', 'Host', 'h'] }));
  assert.equal(env['HTTP_COOKIE'], 'nom=NOM; yum=YUM');
  assert.equal(env['HTTP_X_FOO'], 'val1, val2');
});

test('env: httpoxy, duplicated CONTENT_* and underscore names never become HTTP_*', () => {
  const env = buildMetaVariables(input({
    rawHeaders: ['Proxy', 'http://evil:3128', 'Content-Length', '3', 'Content-Type', 'text/plain', 'X_Forwarded_For', 'spoof', 'X-Forwarded-For', 'real', 'Transfer-Encoding', 'chunked', 'Connection', 'keep-alive'],
    contentLength: 3,
  }));
  assert.equal(env['HTTP_PROXY'], undefined);
  assert.equal(env['HTTP_CONTENT_LENGTH'], undefined);
  assert.equal(env['HTTP_CONTENT_TYPE'], undefined);
  assert.equal(env['HTTP_TRANSFER_ENCODING'], undefined);
  assert.equal(env['HTTP_X_FORWARDED_FOR'], 'real', 'X_Forwarded_For is dropped so it cannot spoof X-Forwarded-For');
  assert.equal(env['CONTENT_LENGTH'], '3');
  assert.equal(env['CONTENT_TYPE'], 'text/plain');
});

test('env: CONTENT_TYPE only with a body', () => {
  const env = buildMetaVariables(input({ rawHeaders: ['Content-Type', 'text/plain'] }));
  assert.equal(env['CONTENT_TYPE'], undefined);
  assert.equal(buildMetaVariables(input({ contentLength: 0 }))['CONTENT_LENGTH'], '0');
});

test('env: Basic credentials give AUTH_TYPE and REMOTE_USER; Authorization withheld unless enabled', () => {
  const auth = 'Basic ' + Buffer.from('alice:secret').toString('base64');
  let env = buildMetaVariables(input({ rawHeaders: ['Authorization', auth] }));
  assert.equal(env['AUTH_TYPE'], 'Basic');
  assert.equal(env['REMOTE_USER'], 'alice');
  assert.equal(env['HTTP_AUTHORIZATION'], undefined);
  env = buildMetaVariables(input({ rawHeaders: ['Authorization', auth], passAuthorization: true }));
  assert.equal(env['HTTP_AUTHORIZATION'], auth);
  env = buildMetaVariables(input({ rawHeaders: ['Authorization', 'Bearer xyz'] }));
  assert.equal(env['AUTH_TYPE'], undefined);
});

test('env: TLS sets HTTPS and REQUEST_SCHEME; operator variables never override meta-variables', () => {
  const env = buildMetaVariables(input({ tls: true, extra: { PATH: '/bin', SCRIPT_NAME: '/forged', TZ: 'UTC' } }));
  assert.equal(env['HTTPS'], 'on');
  assert.equal(env['REQUEST_SCHEME'], 'https');
  assert.equal(env['SCRIPT_NAME'], '/cgi-bin/test.cgi');
  assert.equal(env['TZ'], 'UTC');
});

test('env: PATH_TRANSLATED never escapes the document root', () => {
  assert.equal(translatePath('/srv/public', '/a/b'), '/srv/public/a/b');
  assert.equal(translatePath('/srv/public', '/dir/'), '/srv/public/dir/');
  assert.equal(translatePath('/srv/public', '/'), '/srv/public/');
  assert.equal(translatePath('/srv/public', '/../../etc/passwd'), null);
  assert.equal(translatePath('/srv/public', '/../public2/x'), null);
  assert.equal(buildMetaVariables(input({ script: { scriptName: '/s', pathInfo: '/../../etc', filename: '/x' } }))['PATH_TRANSLATED'], undefined);
});

test('env: values over the exec limits are reported, not passed to execve', () => {
  const env = buildMetaVariables(input({ rawHeaders: ['X-Big', 'x'.repeat(200 * 1024)] }));
  assert.equal(checkExecLimits(env), 'HTTP_X_BIG');
  assert.equal(checkExecLimits(buildMetaVariables(input())), null);
});

test('env: the result is a plain null-prototype object (no inherited keys reach a child)', () => {
  const env = buildMetaVariables(input({ rawHeaders: ['Constructor', 'x', 'Proto', 'y'] }));
  assert.equal(Object.getPrototypeOf(env), null);
  assert.equal(env['HTTP_CONSTRUCTOR'], 'x');
});
