// Tests of peers.sh with real peers: a short nginx static run prints its row and leaves nothing running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/bench/server-child.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd} || test -x /usr/sbin/${cmd}`], { stdio: 'ignore' }).status === 0;
}

function peersProcesses(): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('forkfast-peers.')) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

test('peers.sh: nginx static and forkfast static side by side, then everything stopped', { timeout: 90000 }, async (t) => {
  if (!has('wrk')) return t.skip('wrk not installed');
  if (!has('nginx')) return t.skip('nginx not installed');
  if (!existsSync(`${root}dist/src/cli.js`)) return t.skip('forkfast is not built');
  const before = new Set(peersProcesses());
  const base = await freePort();
  const env = { ...process.env, DUR: '1', WARM: '0', ONLY: 'static-1k', PORT_BASE: String(base) };
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn('bash', [`${root}test/measure/peers.sh`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
    const timer = setTimeout(() => p.kill('SIGTERM'), 80000);
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^nginx-static-1k\s+\d+/m);
  assert.match(r.out, /forkfast static 1 KiB \/ nginx static 1 KiB/);
  assert.match(r.out, /^versions: node v/m);
  const left = peersProcesses().filter((p) => !before.has(p));
  assert.deepEqual(left, [], 'no server left running');
});
