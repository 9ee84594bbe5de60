// `forkfast serve --upstream`: /fcgi-bin/ sent to an external `forkfast pool` whose --cgi-bin lives elsewhere.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAllPools, makeFixtureDir, ROOT, startPool } from './harness.js';
import { startServer } from '../helpers/server.js';

after(killAllPools);

test('--upstream: the pool resolves a relative SCRIPT_FILENAME in its own cgi-bin', async (t) => {
  // The pool's cgi-bin is a copy at another path than the front's: as on another machine.
  const fixtures = makeFixtureDir();
  copyFileSync(join(ROOT, 'cgi-bin', 'hello.mjs'), join(fixtures.cgiBin, 'hello.mjs'));
  const pool = await startPool({ workers: 1 }, fixtures);
  const front = mkdtempSync(join(tmpdir(), 'ff-front-'));
  mkdirSync(join(front, 'public'));
  mkdirSync(join(front, 'cgi-bin'));
  copyFileSync(join(ROOT, 'cgi-bin', 'counter.mjs'), join(front, 'cgi-bin', 'counter.mjs'));
  copyFileSync(join(ROOT, 'cgi-bin', 'hello.mjs'), join(front, 'cgi-bin', 'hello.mjs'));
  const s = await startServer(['--public', join(front, 'public'), '--cgi-bin', join(front, 'cgi-bin'), '--upstream', `unix:${join(fixtures.dir, 'pool.sock')}`]);
  t.after(() => s.stop());
  const counts: string[] = [];
  for (let i = 0; i < 3; i++) counts.push(await (await fetch(`${s.url}/fcgi-bin/counter.mjs`)).text());
  assert.deepEqual(counts.map((c) => /count=(\d+)/.exec(c)?.[1]), ['1', '2', '3'], 'one resident worker in the external pool counts');
  const hello = await fetch(`${s.url}/fcgi-bin/hello.mjs`);
  assert.equal(hello.status, 200);
  assert.match(await hello.text(), /hello from \/fcgi-bin\/hello\.mjs/);
  assert.ok(!s.logs().some((l) => l['msg'] === 'pool ready'), 'no embedded pool was started');
  await pool.close();
});
