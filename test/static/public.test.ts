// The bundled landing page: served by the static mount, self-contained, and linking only to
// example scripts that exist under both mounts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/log.js';
import { createStaticMount } from '../../src/static/serve.js';
import { request, serve, type Running } from './harness.js';

// dist/test/static/public.test.js → the repository root.
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const html = readFileSync(`${repo}public/index.html`, 'utf8');
let srv: Running;

before(async () => {
  srv = await serve(createStaticMount({ root: `${repo}public`, log: silentLogger() }));
});
after(async () => {
  await srv?.close();
});

test('the landing page and its stylesheet are served with their types', { timeout: 10_000 }, async () => {
  const page = await request(srv.port, 'GET', '/');
  assert.equal(page.status, 200);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(page.body.toString(), /<title>forkfast/);
  const css = await request(srv.port, 'GET', '/style.css');
  assert.equal(css.status, 200);
  assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
});

test('no external resources: scripts, styles and images are local', () => {
  for (const m of html.matchAll(/<(?:link|script|img)\b[^>]*\b(?:href|src)="([^"]+)"/g)) {
    assert.ok(!/^(https?:)?\/\//.test(m[1] ?? ''), `external resource ${m[1]}`);
  }
});

test('every bundled example is linked under both mounts and exists in cgi-bin/', () => {
  const scripts = ['hello.sh', 'env.sh', 'form.pl', 'hello.mjs', 'form.mjs', 'counter.mjs'];
  for (const s of scripts) {
    for (const mount of ['/cgi-bin/', '/fcgi-bin/']) assert.ok(html.includes(`href="${mount}${s}`), `${mount}${s} not linked`);
  }
  for (const m of html.matchAll(/href="\/f?cgi-bin\/([^"/?]+)/g)) {
    assert.ok(existsSync(`${repo}cgi-bin/${m[1]}`), `linked script cgi-bin/${m[1]} does not exist`);
  }
  for (const path of ['/-/status', 'forkfast bench', 'npm run bench']) assert.ok(html.includes(path), path);
});
