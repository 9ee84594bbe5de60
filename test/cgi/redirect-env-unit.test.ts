// Unit tests of the REDIRECT_* meta-variables in the builder (cgi/env RedirectInput): Apache's renaming, its exceptions and precedence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMetaVariables, type MetaInput, type RedirectInput } from '../../src/cgi/env.js';

function input(over: Partial<MetaInput> = {}): MetaInput {
  return {
    method: 'GET',
    target: '/cgi-bin/b.cgi',
    query: '',
    httpVersion: '1.1',
    rawHeaders: ['Host', 'example.com', 'Redirect-Url', '/forged'],
    remoteAddress: '127.0.0.1',
    remotePort: 5000,
    localAddress: '127.0.0.1',
    localPort: 8080,
    tls: false,
    script: { scriptName: '/cgi-bin/b.cgi', pathInfo: '', filename: '/srv/cgi-bin/b.cgi' },
    documentRoot: '/srv/public',
    serverSoftware: 'forkfast/1',
    contentLength: null,
    passAuthorization: false,
    ...over,
  };
}

const firstEnv = buildMetaVariables(input({ method: 'POST', target: '/cgi-bin/a.cgi?x=1', query: 'x=1', contentLength: 3, script: { scriptName: '/cgi-bin/a.cgi', pathInfo: '', filename: '/srv/cgi-bin/a.cgi' } }));

test('redirect-env unit: without a redirect, REDIRECT_STATUS=200 is the only REDIRECT_ name; a header stays HTTP_*', () => {
  const env = buildMetaVariables(input());
  assert.deepEqual(Object.keys(env).filter((k) => k.startsWith('REDIRECT_')), ['REDIRECT_STATUS']);
  assert.equal(env['HTTP_REDIRECT_URL'], '/forged');
});

test('redirect-env unit: one hop renames every previous variable except our default REDIRECT_STATUS', () => {
  const redirect: RedirectInput = { url: '/cgi-bin/a.cgi', query: 'x=1', previous: firstEnv, previousRedirected: false };
  const env = buildMetaVariables(input({ redirect }));
  for (const k of Object.keys(firstEnv)) {
    if (k === 'REDIRECT_STATUS') continue;
    assert.equal(env['REDIRECT_' + k], firstEnv[k], k);
  }
  assert.equal(env['REDIRECT_REDIRECT_STATUS'], undefined);
  assert.equal(env['REDIRECT_STATUS'], '200');
  assert.equal(env['REDIRECT_URL'], '/cgi-bin/a.cgi');
  assert.equal(env['REDIRECT_QUERY_STRING'], 'x=1');
  assert.equal(env['REDIRECT_REQUEST_METHOD'], 'POST');
  assert.equal(env['REQUEST_METHOD'], 'GET');
});

test('redirect-env unit: a second hop nests the first one under REDIRECT_REDIRECT_', () => {
  const second = buildMetaVariables(input({ redirect: { url: '/cgi-bin/a.cgi', query: 'x=1', previous: firstEnv, previousRedirected: false } }));
  const env = buildMetaVariables(input({ target: '/cgi-bin/c.cgi', redirect: { url: '/cgi-bin/b.cgi', query: null, previous: second, previousRedirected: true } }));
  assert.equal(env['REDIRECT_URL'], '/cgi-bin/b.cgi');
  assert.equal(env['REDIRECT_QUERY_STRING'], '');
  assert.equal(env['REDIRECT_REDIRECT_STATUS'], '200');
  assert.equal(env['REDIRECT_REDIRECT_URL'], '/cgi-bin/a.cgi');
  assert.equal(env['REDIRECT_REDIRECT_QUERY_STRING'], 'x=1');
  assert.equal(env['REDIRECT_REDIRECT_REQUEST_METHOD'], 'POST');
  assert.equal(env['REDIRECT_REDIRECT_REDIRECT_STATUS'], undefined);
});

test('redirect-env unit: no previous variables recorded: REDIRECT_URL, REDIRECT_QUERY_STRING and REDIRECT_STATUS still set', () => {
  const env = buildMetaVariables(input({ redirect: { url: '/x y', query: null, previous: null, previousRedirected: false } }));
  assert.deepEqual(Object.keys(env).filter((k) => k.startsWith('REDIRECT_')).sort(), ['REDIRECT_QUERY_STRING', 'REDIRECT_STATUS', 'REDIRECT_URL']);
  assert.equal(env['REDIRECT_URL'], '/x y');
  assert.equal(env['REDIRECT_QUERY_STRING'], '');
});

test('redirect-env unit: operator variables cannot replace the REDIRECT_ record (meta-variables win)', () => {
  const env = buildMetaVariables(input({ extra: { REDIRECT_URL: '/operator', PATH: '/bin' }, redirect: { url: '/cgi-bin/a.cgi', query: null, previous: firstEnv, previousRedirected: false } }));
  assert.equal(env['REDIRECT_URL'], '/cgi-bin/a.cgi');
  assert.equal(env['PATH'], '/bin');
});
