// examples/nginx-standalone.conf run as its comment says (nginx -p DIR -c FILE) in front of a real pool.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, killAllPools, startPool } from '../pool/harness.js';
import { freePort, untilOk } from './helpers.js';

after(killAllPools);

test('nginx -p DIR -c examples/nginx-standalone.conf serves /fcgi-bin/ from forkfast pool', { timeout: 60_000 }, async (t) => {
  if (spawnSync('nginx', ['-v']).status !== 0) return t.skip('nginx not installed (apt-get install nginx-light)');
  const [httpPort, poolPort] = [await freePort(), await freePort()];
  const pool = await startPool({ workers: 1, listen: `127.0.0.1:${poolPort}` });
  t.after(() => pool.close());
  // The two example files side by side, with the test's ports; the prefix directory holds the rest.
  const conf = mkdtempSync(join(tmpdir(), 'ff-nginx-conf-'));
  copyFileSync(join(ROOT, 'examples', 'nginx-standalone.conf'), join(conf, 'nginx-standalone.conf'));
  const site = readFileSync(join(ROOT, 'examples', 'nginx.conf'), 'utf8');
  writeFileSync(join(conf, 'nginx.conf'), site.replace('server 127.0.0.1:9000;', `server 127.0.0.1:${poolPort};`).replace('listen 8080;', `listen 127.0.0.1:${httpPort};`));
  assert.notEqual(readFileSync(join(conf, 'nginx.conf'), 'utf8'), site, 'the ports were replaced');
  const prefix = mkdtempSync(join(tmpdir(), 'ff-nginx-prefix-'));
  // nginx's workers run as nobody when started by root: they must reach the temp directories.
  chmodSync(prefix, 0o755);
  const test = spawnSync('nginx', ['-t', '-p', prefix, '-c', join(conf, 'nginx-standalone.conf'), '-e', 'stderr'], { encoding: 'utf8' });
  assert.equal(test.status, 0, test.stderr);
  const nginx = spawn('nginx', ['-p', prefix, '-c', join(conf, 'nginx-standalone.conf'), '-e', 'stderr'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  nginx.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise((r) => nginx.once('exit', r));
  t.after(async () => {
    nginx.kill('SIGQUIT');
    await exited;
  });
  const res = await untilOk(`http://127.0.0.1:${httpPort}/fcgi-bin/counter.mjs/more?x=1`, 15_000, () => stderr);
  assert.equal(res.status, 200, stderr);
  assert.match(readFileSync(join(prefix, 'nginx.pid'), 'utf8'), /^\d+\n$/, 'the pid file sits in the prefix');
  assert.match(readFileSync(join(prefix, 'access.log'), 'utf8'), /GET \/fcgi-bin\/counter\.mjs\/more\?x=1 HTTP\/1\.1" 200/);
  const miss = await fetch(`http://127.0.0.1:${httpPort}/fcgi-bin/no-such.mjs`);
  await miss.arrayBuffer();
  assert.equal(miss.status, 404);
});
