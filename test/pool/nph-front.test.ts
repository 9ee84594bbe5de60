// An nph- script under `forkfast serve`: /cgi-bin/ passes its bytes, /fcgi-bin/ (the pool) its status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startServer } from '../helpers/server.js';

test('serve: an nph- script answers with its own status line under /cgi-bin/ and /fcgi-bin/ alike', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-nph-'));
  mkdirSync(join(dir, 'cgi-bin'));
  mkdirSync(join(dir, 'public'));
  copyFileSync(join(repoRoot, 'test', 'fixtures', 'cgi-bin', 'nph-test.cgi'), join(dir, 'cgi-bin', 'nph-test.cgi'));
  chmodSync(join(dir, 'cgi-bin', 'nph-test.cgi'), 0o755);
  const server = await startServer(['--cgi-bin', join(dir, 'cgi-bin'), '--public', join(dir, 'public'), '--workers', '1']);
  try {
    for (const mount of ['cgi-bin', 'fcgi-bin']) {
      const res = await fetch(`${server.url}/${mount}/nph-test.cgi?q`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 299, mount);
      assert.equal(res.statusText, 'Custom NPH', mount);
      assert.equal(res.headers.get('x-nph'), 'yes', mount);
      assert.equal(await res.text(), 'nph body q\n', mount);
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
