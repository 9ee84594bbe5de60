// REDIRECT_* meta-variables after a CGI local redirect (RFC 3875 §6.2.2), through the real `forkfast serve`: both transports, a chain, no forgery.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, repoRoot, type RunningServer } from '../helpers/server.js';
import { fetchRaw, parseEnv } from './harness.js';

let s: RunningServer;
before(async () => {
  s = await startServer(['--cgi-bin', repoRoot + 'test/fixtures/cgi-bin', '--workers', '1']);
});
after(async () => {
  await s.stop();
});

const T = { timeout: 20_000 };
const POST = { method: 'POST', body: 'abc', headers: { 'content-type': 'text/plain', 'x-probe': 'yes' } };

interface ModuleReply {
  readonly method: string;
  readonly hasBody: boolean;
  readonly env: Record<string, string>;
}

/** The resident handler's view (test/fixtures/cgi-bin/redir-env.mjs). */
async function moduleView(path: string, o: Parameters<typeof fetchRaw>[2] = {}): Promise<ModuleReply> {
  const r = await fetchRaw(s.port, path, o);
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text) as ModuleReply;
}

/** A shell script's view: test.cgi dumps `env | sort`. */
async function shellView(path: string, o: Parameters<typeof fetchRaw>[2] = {}): Promise<Record<string, string>> {
  const r = await fetchRaw(s.port, path, o);
  assert.equal(r.status, 200, r.text);
  return parseEnv(r.text);
}

const redirectKeys = (env: Record<string, string>): string[] => Object.keys(env).filter((k) => k.startsWith('REDIRECT_')).sort();

test('redirect-env: a /cgi-bin/ script reached by a local redirect from a POST sees what Apache passes', T, async () => {
  const env = await shellView('/cgi-bin/redir-env.cgi/p%20q?to-cgi&a=1', POST);
  // The redirected request itself: a GET without the body (§6.2.2).
  assert.equal(env['REQUEST_METHOD'], 'GET');
  assert.equal(env['CONTENT_LENGTH'], undefined);
  assert.equal(env['SCRIPT_NAME'], '/cgi-bin/test.cgi');
  assert.equal(env['PATH_INFO'], '/landed');
  assert.equal(env['QUERY_STRING'], '');
  // Apache's three, then the REDIRECT_ copies of what the redirecting script saw.
  assert.equal(env['REDIRECT_STATUS'], '200');
  assert.equal(env['REDIRECT_URL'], '/cgi-bin/redir-env.cgi/p q');
  assert.equal(env['REDIRECT_QUERY_STRING'], 'to-cgi&a=1');
  assert.equal(env['REDIRECT_REQUEST_METHOD'], 'POST');
  assert.equal(env['REDIRECT_CONTENT_LENGTH'], '3');
  assert.equal(env['REDIRECT_CONTENT_TYPE'], 'text/plain');
  assert.equal(env['REDIRECT_SCRIPT_NAME'], '/cgi-bin/redir-env.cgi');
  assert.equal(env['REDIRECT_PATH_INFO'], '/p q');
  assert.equal(env['REDIRECT_REQUEST_URI'], '/cgi-bin/redir-env.cgi/p%20q?to-cgi&a=1');
  assert.equal(env['REDIRECT_HTTP_X_PROBE'], 'yes');
  assert.equal(env['REDIRECT_PATH'], env['PATH']);
  assert.equal(env['HTTP_X_PROBE'], 'yes', 'the request headers stay the client\'s');
  // One hop: nothing doubled, and our php-cgi REDIRECT_STATUS of the first request is not a record.
  assert.deepEqual(redirectKeys(env).filter((k) => k.startsWith('REDIRECT_REDIRECT_')), []);
});

test('redirect-env: the resident handler behind /fcgi-bin/ gets them in its env (FastCGI PARAMS)', T, async () => {
  const r = await moduleView('/fcgi-bin/redir-env.cgi?to-fcgi', POST);
  assert.equal(r.method, 'GET');
  assert.equal(r.hasBody, false);
  const env = r.env;
  assert.equal(env['REQUEST_METHOD'], 'GET');
  assert.equal(env['SCRIPT_NAME'], '/fcgi-bin/redir-env.mjs');
  assert.equal(env['REDIRECT_STATUS'], '200');
  assert.equal(env['REDIRECT_URL'], '/fcgi-bin/redir-env.cgi');
  assert.equal(env['REDIRECT_QUERY_STRING'], 'to-fcgi');
  assert.equal(env['REDIRECT_REQUEST_METHOD'], 'POST');
  assert.equal(env['REDIRECT_CONTENT_LENGTH'], '3');
  assert.equal(env['REDIRECT_SCRIPT_NAME'], '/fcgi-bin/redir-env.cgi');
  assert.equal(env['REDIRECT_HTTP_X_PROBE'], 'yes');
  // The FastCGI gateway sends no PATH, so there is none to copy.
  assert.equal(env['REDIRECT_PATH'], undefined);
  assert.deepEqual(redirectKeys(env).filter((k) => k.startsWith('REDIRECT_REDIRECT_')), []);
});

test('redirect-env: a chain of two redirects (cgi -> fcgi -> module): REDIRECT_ is the last hop, REDIRECT_REDIRECT_ the first', T, async () => {
  const { env } = await moduleView('/cgi-bin/redir-env.cgi/chain', POST);
  assert.equal(env['REDIRECT_STATUS'], '200');
  assert.equal(env['REDIRECT_URL'], '/fcgi-bin/redir-env.cgi');
  assert.equal(env['REDIRECT_QUERY_STRING'], 'to-fcgi&hop=2');
  assert.equal(env['REDIRECT_REQUEST_METHOD'], 'GET');
  assert.equal(env['REDIRECT_CONTENT_LENGTH'], undefined);
  // The client's request, one level further down; it had no query: '' (Apache always sets it).
  assert.equal(env['REDIRECT_REDIRECT_STATUS'], '200');
  assert.equal(env['REDIRECT_REDIRECT_URL'], '/cgi-bin/redir-env.cgi/chain');
  assert.equal(env['REDIRECT_REDIRECT_QUERY_STRING'], '');
  assert.equal(env['REDIRECT_REDIRECT_REQUEST_METHOD'], 'POST');
  assert.equal(env['REDIRECT_REDIRECT_CONTENT_LENGTH'], '3');
  assert.equal(env['REDIRECT_REDIRECT_SCRIPT_NAME'], '/cgi-bin/redir-env.cgi');
  assert.ok(env['REDIRECT_REDIRECT_PATH'], 'the CGI hop had PATH');
  assert.deepEqual(redirectKeys(env).filter((k) => k.startsWith('REDIRECT_REDIRECT_REDIRECT_')), []);
});

// Every name a REDIRECT_ prefix may stand in front of: the server's own meta-variables (RFC 3875
// §4.1 and the common extensions), PATH, Apache's three, or a client header's HTTP_* copy.
const SERVER_NAMES = new Set([
  'URL', 'STATUS', 'QUERY_STRING', 'PATH', 'AUTH_TYPE', 'CONTENT_LENGTH', 'CONTENT_TYPE', 'GATEWAY_INTERFACE', 'PATH_INFO', 'PATH_TRANSLATED',
  'REMOTE_ADDR', 'REMOTE_HOST', 'REMOTE_USER', 'REMOTE_PORT', 'REQUEST_METHOD', 'SCRIPT_NAME', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL',
  'SERVER_SOFTWARE', 'SERVER_ADDR', 'REQUEST_URI', 'SCRIPT_FILENAME', 'DOCUMENT_ROOT', 'REQUEST_SCHEME', 'HTTPS',
]);
const FORGING = {
  'Redirect-Url': '/forged',
  'Redirect-Status': '302',
  'Redirect-Query-String': 'forged',
  'Redirect-Redirect-Url': 'forged',
  REDIRECT_URL: 'forged',
};

function assertNotForged(env: Record<string, string>, where: string): void {
  for (const k of redirectKeys(env)) {
    const base = k.replace(/^(REDIRECT_)+/, '');
    assert.ok(base.startsWith('HTTP_') || SERVER_NAMES.has(base), `${where}: ${k} is not a server-made name`);
    // The query string's value is the client's to choose; Apache's record of the redirect is not.
    if (base === 'URL' || base === 'STATUS') assert.doesNotMatch(env[k] ?? '', /forged|^302$/, `${where}: ${k}=${env[k]}`);
  }
  // The headers are there, under HTTP_ (RFC 3875 §4.1.18); the one with '_' is dropped.
  assert.equal(env['HTTP_REDIRECT_URL'], '/forged', where);
  assert.equal(env['HTTP_REDIRECT_STATUS'], '302', where);
}

test('redirect-env: no client input makes a REDIRECT_ variable, with or without a redirect, on both transports', T, async () => {
  const o = { headers: FORGING };
  // No redirect: REDIRECT_STATUS=200 (php-cgi's force_redirect, as nginx's fastcgi_params) and nothing else.
  let env = await shellView('/cgi-bin/test.cgi?REDIRECT_URL=forged', o);
  assertNotForged(env, 'cgi direct');
  assert.deepEqual(redirectKeys(env), ['REDIRECT_STATUS']);
  assert.equal(env['REDIRECT_STATUS'], '200');
  env = (await moduleView('/fcgi-bin/redir-env.mjs?REDIRECT_URL=forged', o)).env;
  assertNotForged(env, 'fcgi direct');
  assert.deepEqual(redirectKeys(env), ['REDIRECT_STATUS']);
  // Redirected: the server's values win; the forged headers appear only as REDIRECT_HTTP_* copies.
  env = await shellView('/cgi-bin/redir-env.cgi?to-cgi&REDIRECT_URL=forged', o);
  assertNotForged(env, 'cgi redirected');
  assert.equal(env['REDIRECT_URL'], '/cgi-bin/redir-env.cgi');
  assert.equal(env['REDIRECT_STATUS'], '200');
  assert.equal(env['REDIRECT_HTTP_REDIRECT_URL'], '/forged');
  env = (await moduleView('/fcgi-bin/redir-env.cgi?to-fcgi&REDIRECT_URL=forged', o)).env;
  assertNotForged(env, 'fcgi redirected');
  assert.equal(env['REDIRECT_URL'], '/fcgi-bin/redir-env.cgi');
  assert.equal(env['REDIRECT_QUERY_STRING'], 'to-fcgi&REDIRECT_URL=forged');
});
