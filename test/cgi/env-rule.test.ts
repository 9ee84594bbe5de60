// The one rule for what a script may see (cgi/env-rule): one table, checked on the rule itself,
// on the front's meta-variables (headers) and on the pool's environment (FastCGI parameters).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headerVariable, requestMayName } from '../../src/cgi/env-rule.js';
import { buildMetaVariables, type MetaInput } from '../../src/cgi/env.js';
import { scriptEnv } from '../../src/pool/script-env.js';
import type { LocatedScript } from '../../src/pool/script.js';

/** name -> may a request name it (without --pass-authorization). */
const RULE_TABLE: ReadonlyArray<readonly [string, boolean]> = [
  // RFC 3875 §4.1 meta-variables and the common extensions pass.
  ['REQUEST_METHOD', true], ['SCRIPT_NAME', true], ['PATH_INFO', true], ['PATH_TRANSLATED', true], ['QUERY_STRING', true],
  ['CONTENT_LENGTH', true], ['CONTENT_TYPE', true], ['DOCUMENT_ROOT', true], ['REDIRECT_STATUS', true], ['HTTPS', true],
  ['HTTP_HOST', true], ['HTTP_USER_AGENT', true], ['HTTP_X_FORWARDED_FOR', true], ['HTTP_COOKIE', true],
  // §4.1.18 and httpoxy.
  ['HTTP_PROXY', false], ['HTTP_CONTENT_LENGTH', false], ['HTTP_CONTENT_TYPE', false], ['HTTP_TRANSFER_ENCODING', false], ['HTTP_CONNECTION', false],
  ['HTTP_AUTHORIZATION', false],
  // The server's own.
  ['PATH', false], ['HOME', false],
  // Dynamic loaders.
  ['LD_PRELOAD', false], ['LD_LIBRARY_PATH', false], ['LD_AUDIT', false], ['LD_ANYTHING_NEW', false], ['DYLD_INSERT_LIBRARIES', false],
  ['_RLD_ROOT', false], ['LDR_PRELOAD', false], ['GCONV_PATH', false], ['GLIBC_TUNABLES', false], ['MALLOC_CHECK_', false],
  ['LOCPATH', false], ['NLSPATH', false], ['HOSTALIASES', false], ['RES_OPTIONS', false], ['TMPDIR', false], ['TZDIR', false],
  // Shells.
  ['BASH_ENV', false], ['ENV', false], ['IFS', false], ['SHELLOPTS', false], ['BASHOPTS', false], ['PS4', false], ['CDPATH', false],
  ['GLOBIGNORE', false], ['BASH_FUNC_ls%%', false], ['ZDOTDIR', false],
  // Interpreters.
  ['PYTHONPATH', false], ['PYTHONSTARTUP', false], ['PYTHONHOME', false], ['PERL5LIB', false], ['PERL5OPT', false], ['PERLLIB', false],
  ['RUBYOPT', false], ['RUBYLIB', false], ['NODE_OPTIONS', false], ['NODE_PATH', false], ['PHPRC', false], ['PHP_INI_SCAN_DIR', false],
  ['JAVA_TOOL_OPTIONS', false], ['LUA_INIT', false],
  // Not a variable name: "LD_PRELOAD=/x" would be LD_PRELOAD at execve.
  ['LD_PRELOAD=/tmp/x.so', false], ['X=Y', false], ['', false], ['A\0B', false],
  // Lower case is another variable for the loader and the shells.
  ['ld_preload', true],
];

test('env rule: the table', () => {
  for (const [name, ok] of RULE_TABLE) assert.equal(requestMayName(name, false), ok, JSON.stringify(name));
  // Twice: the memo answers the same.
  for (const [name, ok] of RULE_TABLE) assert.equal(requestMayName(name, false), ok, `${JSON.stringify(name)} (memo)`);
  assert.equal(requestMayName('HTTP_AUTHORIZATION', true), true, '--pass-authorization');
  assert.equal(requestMayName('LD_PRELOAD', true), false);
});

test('env rule: header names', () => {
  assert.equal(headerVariable('user-agent'), 'HTTP_USER_AGENT');
  assert.equal(headerVariable('proxy'), '');
  assert.equal(headerVariable('content-length'), '');
  assert.equal(headerVariable('content-type'), '');
  assert.equal(headerVariable('connection'), '');
  assert.equal(headerVariable('transfer-encoding'), '');
  assert.equal(headerVariable('authorization'), 'HTTP_AUTHORIZATION', 'the caller decides (AUTH_TYPE needs it)');
});

function input(rawHeaders: string[]): MetaInput {
  return {
    method: 'GET', target: '/cgi-bin/a', query: '', httpVersion: '1.1', rawHeaders,
    remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2, tls: false,
    script: { scriptName: '/cgi-bin/a', pathInfo: '', filename: '/srv/cgi-bin/a' },
    documentRoot: '/srv/public', serverSoftware: 't', contentLength: null, passAuthorization: false,
  };
}

test('env rule: the front and the pool apply the same table', () => {
  const script: LocatedScript = { ok: true, file: '/srv/cgi-bin/a', dir: '/srv/cgi-bin', kind: 'program', pathInfo: null };
  const params = new Map(RULE_TABLE.map(([name]) => [name, 'v'] as [string, string]));
  const env = scriptEnv(params, script, false, { PATH: '/usr/bin:/bin' });
  for (const [name, ok] of RULE_TABLE) {
    if (name === 'PATH') continue;
    assert.equal(env[name] === 'v', ok, `pool: ${JSON.stringify(name)}`);
  }
  assert.equal(env['PATH'], '/usr/bin:/bin', 'PATH is the server\'s');
  assert.equal(Object.getPrototypeOf(env), null, 'no prototype: a parameter cannot reach Object.prototype names');
  // Every HTTP_* row, sent as a header.
  for (const [name, ok] of RULE_TABLE) {
    if (!name.startsWith('HTTP_') || name === 'HTTP_AUTHORIZATION') continue;
    const header = name.slice(5).toLowerCase().replaceAll('_', '-');
    const meta = buildMetaVariables(input([header, 'v']));
    assert.equal(meta[name] === 'v', ok, `front: ${header}`);
  }
});

test('pool env: PATH_TRANSLATED derived under DOCUMENT_ROOT, never outside; a split name sets PATH_INFO and SCRIPT_NAME', () => {
  const plain: LocatedScript = { ok: true, file: '/srv/cgi-bin/a.sh', dir: '/srv/cgi-bin', kind: 'program', pathInfo: null };
  const base = { DOCUMENT_ROOT: '/var/www', SCRIPT_NAME: '/fcgi-bin/a.sh' };
  const at = (extra: Record<string, string>, script = plain): Record<string, string> => scriptEnv(new Map(Object.entries({ ...base, ...extra })), script, false);
  assert.equal(at({ PATH_INFO: '/x/y' })['PATH_TRANSLATED'], '/var/www/x/y');
  assert.equal(at({ PATH_INFO: '/dir/' })['PATH_TRANSLATED'], '/var/www/dir/');
  assert.equal(at({ PATH_INFO: '/../../etc/passwd' })['PATH_TRANSLATED'], undefined, 'outside the document root: left out');
  assert.equal(at({ PATH_INFO: '/a/../../www2/x' })['PATH_TRANSLATED'], undefined);
  assert.equal(at({ PATH_INFO: '' })['PATH_TRANSLATED'], undefined, 'no PATH_INFO, no PATH_TRANSLATED (§4.1.6)');
  assert.equal(at({ PATH_INFO: '/x', DOCUMENT_ROOT: 'relative' })['PATH_TRANSLATED'], undefined);
  assert.equal(at({ PATH_INFO: '/x', PATH_TRANSLATED: '/given' })['PATH_TRANSLATED'], '/given', 'the web server\'s own value stays');
  const split: LocatedScript = { ...plain, pathInfo: '/some/path' };
  const env = at({ SCRIPT_NAME: '/fcgi-bin/a.sh/some/path' }, split);
  assert.equal(env['SCRIPT_NAME'], '/fcgi-bin/a.sh');
  assert.equal(env['PATH_INFO'], '/some/path');
  assert.equal(env['PATH_TRANSLATED'], '/var/www/some/path');
  assert.equal(env['SCRIPT_FILENAME'], '/srv/cgi-bin/a.sh');
});
