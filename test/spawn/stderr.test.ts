// `exited` comes after the last stderr line (the pool sends each line as FCGI_STDERR before
// END_REQUEST): a child that closes stdout and writes stderr up to its exit loses nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSpawner } from '../../src/spawn/spawner.js';
import { loadNativeStarter } from '../../src/spawn/native-backend.js';
import { silentLogger } from '../../src/log.js';
import { readAll } from './fixtures.js';

const native = loadNativeStarter(silentLogger()) !== null;

for (const backend of ['node', 'native'] as const) {
  test(`[${backend}] every stderr line is passed on before exited resolves`, { timeout: 30_000, skip: backend === 'native' && !native ? 'native spawn addon not built' : false }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-stderr-'));
    const script = join(dir, 'late-stderr.sh');
    writeFileSync(script, '#!/bin/sh\nprintf "Status: 200\\r\\n\\r\\n"\nexec 1>&-\ni=0\nwhile [ $i -lt 300 ]; do echo "line $i" >&2; i=$((i+1)); done\nprintf "last without newline" >&2\n');
    chmodSync(script, 0o755);
    const s = createSpawner({ maxChildren: 4, queueSize: 4, killGraceMs: 300, stderrLimit: 1 << 20, backend }, silentLogger());
    t.after(async () => {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    });
    for (let round = 0; round < 20; round++) {
      const lines: string[] = [];
      const child = await s.spawn({ file: script, args: [], cwd: dir, env: { PATH: '/usr/bin:/bin' }, stdin: null, idleTimeoutMs: 0, timeoutMs: 0, onStderrLine: (l) => lines.push(l) });
      await readAll(child.stdout);
      const exit = await child.exited;
      assert.equal(exit.code, 0);
      assert.equal(lines.length, 301, `round ${round}: ${lines.length} lines at exit`);
      assert.equal(lines[300], 'last without newline');
    }
  });
}
