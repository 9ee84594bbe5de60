// The example scripts users copy from cgi-bin/: each answers, forms escape their input, counter.mjs is always 1 here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fetchRaw, parseEnv, repoRoot, type Harness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness({ cgiBin: repoRoot + 'cgi-bin' });
});
after(async () => {
  await h.close();
});

const T = { timeout: 20_000 };
const XSS = '<script>alert("x")</script>';

test('examples: hello.sh and hello.mjs', T, async () => {
  assert.equal((await fetchRaw(h.port, '/cgi-bin/hello.sh')).text, 'hello from /cgi-bin/hello.sh\n');
  assert.equal((await fetchRaw(h.port, '/cgi-bin/hello.mjs')).text, 'hello from /cgi-bin/hello.mjs\n');
});

test('examples: env.sh prints the meta-variables', T, async () => {
  const env = parseEnv((await fetchRaw(h.port, '/cgi-bin/env.sh/some/path?a=1')).text);
  assert.equal(env['SCRIPT_NAME'], '/cgi-bin/env.sh');
  assert.equal(env['PATH_INFO'], '/some/path');
  assert.equal(env['QUERY_STRING'], 'a=1');
});

test('examples: form.pl and form.mjs answer GET and POST and escape their input', T, async () => {
  for (const script of ['form.pl', 'form.mjs']) {
    const get = await fetchRaw(h.port, `/cgi-bin/${script}?name=${encodeURIComponent(XSS)}`);
    assert.equal(get.status, 200, script);
    assert.ok(!get.text.includes('<script>'), `${script} GET escapes`);
    assert.ok(get.text.includes('&lt;script&gt;') || get.text.includes('&#60;script&#62;'), script);
    const post = await fetchRaw(h.port, `/cgi-bin/${script}`, { method: 'POST', body: `name=${encodeURIComponent(XSS)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(post.status, 200, script);
    assert.ok(!post.text.includes('<script>'), `${script} POST escapes`);
    assert.ok(post.text.includes('(POST)'), script);
  }
});

test('examples: counter.mjs is always 1 under /cgi-bin/ (a fresh process per request)', T, async () => {
  for (let i = 0; i < 3; i++) assert.match((await fetchRaw(h.port, '/cgi-bin/counter.mjs')).text, /^count=1 pid=\d+\n$/);
});
