// Unit tests of script resolution (cgi/script) against the fixture cgi-bin/: PATH_INFO cases and every refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolveScript } from '../../src/cgi/script.js';

const root = realpathSync(fileURLToPath(new URL('../../../test/fixtures/cgi-bin', import.meta.url)));
const P = '/cgi-bin/';

test('script: PATH_INFO cases (lighttpd mod_cgi, Go host_test TestPathInfo*)', async () => {
  const cases: Array<[string, string, string]> = [
    ['/cgi-bin/test.cgi', '/cgi-bin/test.cgi', ''],
    ['/cgi-bin/test.cgi/', '/cgi-bin/test.cgi', '/'],
    ['/cgi-bin/test.cgi/a/b', '/cgi-bin/test.cgi', '/a/b'],
    ['/cgi-bin/test.cgi/a%20b/%2e%2e', '/cgi-bin/test.cgi', '/a b/..'],
    ['/cgi-bin/test.cgi/a%2Fb', '/cgi-bin/test.cgi', '/a/b'],
    ['/cgi-bin/sub/deep.cgi/x', '/cgi-bin/sub/deep.cgi', '/x'],
    ['/cgi-bin/%74est.cgi', '/cgi-bin/test.cgi', ''],
  ];
  for (const [path, scriptName, pathInfo] of cases) {
    const r = await resolveScript(root, P, path);
    assert.ok(r.ok, `${path}: ${JSON.stringify(r)}`);
    assert.equal(r.scriptName, scriptName, path);
    assert.equal(r.pathInfo, pathInfo, path);
    assert.equal(r.kind, 'program');
  }
});

test('script: kinds, NPH, working directory, symlinks inside the root', async () => {
  const mod = await resolveScript(root, P, '/cgi-bin/mod.mjs/p');
  assert.ok(mod.ok && mod.kind === 'module' && !mod.nph);
  const nph = await resolveScript(root, P, '/cgi-bin/nph-test.cgi');
  assert.ok(nph.ok && nph.nph);
  const deep = await resolveScript(root, P, '/cgi-bin/sub/deep.cgi');
  assert.ok(deep.ok && deep.dir === root + '/sub');
  const link = await resolveScript(root, P, '/cgi-bin/inside-link.cgi');
  assert.ok(link.ok && link.filename === root + '/test.cgi' && link.scriptName === '/cgi-bin/inside-link.cgi');
});

test('script: refusals fail closed', async () => {
  const cases: Array<[string, string]> = [
    ['/cgi-bin/../outside.cgi', 'FF_FORBIDDEN'],
    ['/cgi-bin/%2e%2e/outside.cgi', 'FF_FORBIDDEN'],
    ['/cgi-bin/sub%2Fdeep.cgi', 'FF_FORBIDDEN'],
    ['/cgi-bin/sub%5Cdeep.cgi', 'FF_FORBIDDEN'],
    ['/cgi-bin/test.cgi%00', 'FF_FORBIDDEN'],
    ['/cgi-bin/.hidden.cgi', 'FF_FORBIDDEN'],
    ['/cgi-bin/escape.cgi', 'FF_FORBIDDEN'],
    ['/cgi-bin/noexec.cgi', 'FF_FORBIDDEN'],
    ['/cgi-bin/sub', 'FF_FORBIDDEN'],
    ['/cgi-bin/sub/', 'FF_NOT_FOUND'],
    ['/cgi-bin/', 'FF_NOT_FOUND'],
    ['/cgi-bin/missing.cgi', 'FF_NOT_FOUND'],
    ['/cgi-bin//test.cgi', 'FF_NOT_FOUND'],
    ['/cgi-bin/%zz', 'FF_BAD_REQUEST'],
    ['/cgi-bin/test.cgi/%zz', 'FF_BAD_REQUEST'],
    ['/cgi-bin/test.cgi/%00', 'FF_BAD_REQUEST'],
    ['/elsewhere/test.cgi', 'FF_NOT_FOUND'],
  ];
  for (const [path, code] of cases) {
    const r = await resolveScript(root, P, path);
    assert.equal(r.ok, false, path);
    assert.equal(!r.ok && r.code, code, `${path}: ${JSON.stringify(r)}`);
  }
});

test('script cache: a hit is remembered for the TTL; a refusal is not cached', async () => {
  const { mkdtempSync, writeFileSync, rmSync, chmodSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { ScriptCache } = await import('../../src/cgi/script.js');
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'ff-script-cache-')));
  try {
    const cache = new ScriptCache(dir, P, 60_000);
    assert.equal(cache.resolve('/cgi-bin/a.cgi').ok, false);
    writeFileSync(join(dir, 'a.cgi'), '#!/bin/sh\n');
    chmodSync(join(dir, 'a.cgi'), 0o755);
    const first = cache.resolve('/cgi-bin/a.cgi/x');
    assert.ok(first.ok && first.pathInfo === '/x', 'a script that appeared is served at once');
    rmSync(join(dir, 'a.cgi'));
    assert.equal(cache.resolve('/cgi-bin/a.cgi/x'), first, 'within the TTL the resolution is reused');
    assert.equal(new ScriptCache(dir, P, 0).resolve('/cgi-bin/a.cgi/x').ok, false, 'TTL 0: no cache');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve: a file that is neither executable nor a handler module is 403 with one warning and a hint, on /cgi-bin/ and /fcgi-bin/', { timeout: 30_000 }, async () => {
  const { mkdtempSync, writeFileSync, rmSync, mkdirSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { startServer } = await import('../helpers/server.js');
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'ff-not-a-script-')));
  mkdirSync(join(dir, 'cgi-bin'));
  mkdirSync(join(dir, 'public'));
  writeFileSync(join(dir, 'cgi-bin', 'notes.txt'), 'not a script\n');
  const server = await startServer(['--workers', '1'], { cwd: dir });
  try {
    for (const mount of ['/cgi-bin/', '/fcgi-bin/']) {
      const from = server.logs().length;
      const res = await fetch(`${server.url}${mount}notes.txt`);
      assert.equal(res.status, 403, mount);
      assert.doesNotMatch(await res.text(), /not a script/, 'the source is never sent');
      const line = await server.waitForLog((l) => l['msg'] === 'file in cgi-bin is not a script' && server.logs().indexOf(l) >= from, 5000);
      assert.equal(line['level'], 40);
      assert.match(String(line['script']), /notes\.txt$/);
      assert.equal(line['reason'], 'neither executable nor a .js/.mjs handler module');
      assert.equal(line['hint'], 'chmod +x it, or name it .mjs');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(server.logs().slice(from).filter((l) => l['msg'] === 'file in cgi-bin is not a script').length, 1, `${mount}: logged once`);
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
