// examples/logrotate.conf run by logrotate -f (with a state file) while `serve` is under load:
// every access line is in exactly one of the rotated files, none lost, none written twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ROOT } from '../pool/harness.js';
import { startServer } from '../helpers/server.js';
import { sleep, until } from './helpers.js';

const REQUESTS = 2000;
const CONCURRENCY = 8;
const ROTATIONS = 3;

function get(agent: http.Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

function logrotate(conf: string, state: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('logrotate', ['-f', '-s', state, conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

test('logrotate -f with the example config under load: no access line lost, none duplicated', { timeout: 120_000 }, async (t) => {
  if (spawnSync('logrotate', ['--version']).status !== 0) return t.skip('logrotate not installed (apt-get install logrotate)');
  const dir = mkdtempSync(join(tmpdir(), 'ff-logrotate-'));
  const pidFile = join(dir, 'forkfast.pid');
  const s = await startServer(['--workers', '1', '--log-level', 'info', '--log-file', join(dir, 'forkfast.log'), '--access-log', 'combined', '--access-log-file', join(dir, 'access.log')], { readyFile: join(dir, 'forkfast.log') });
  t.after(() => s.stop());
  writeFileSync(pidFile, `${s.proc.pid}\n`);
  const conf = join(dir, 'logrotate.conf');
  const example = readFileSync(join(ROOT, 'examples', 'logrotate.conf'), 'utf8');
  writeFileSync(conf, example.replace('/var/log/forkfast/*.log', join(dir, '*.log')).replaceAll('/run/forkfast/forkfast.pid', pidFile));
  assert.notEqual(readFileSync(conf, 'utf8'), example);

  // Load: distinct paths, CONCURRENCY at a time, half of them through the pool, until every
  // rotation is done and at least REQUESTS were sent.
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  t.after(() => agent.destroy());
  let next = 0;
  let failed = 0;
  let rotating = true;
  const client = async (): Promise<void> => {
    while (rotating || next < REQUESTS) {
      const n = next++;
      const status = await get(agent, s.port, n % 2 === 0 ? `/index.html?n=${n}` : `/fcgi-bin/hello.mjs?n=${n}`);
      if (status !== 200) failed++;
    }
  };
  const load = Promise.all(Array.from({ length: CONCURRENCY }, client));
  const outputs: string[] = [];
  const access = join(dir, 'access.log');
  for (let i = 0; i < ROTATIONS; i++) {
    // notifempty: rotate once the (new) file holds lines, which the buffer writes within a second.
    await until('access lines in the current file', () => existsSync(access) && statSync(access).size > 0, 10_000);
    await sleep(200);
    const r = await logrotate(conf, join(dir, 'logrotate.state'));
    assert.equal(r.code, 0, r.out);
    outputs.push(r.out);
  }
  rotating = false;
  await load;
  assert.equal(failed, 0);
  const sent = next;
  assert.ok(sent >= REQUESTS);
  assert.equal(await s.stop(), 0);

  const files = readdirSync(dir).filter((f) => f.startsWith('access.log'));
  assert.equal(files.length, ROTATIONS + 1, `rotated files: ${files.join(' ')}`);
  // delaycompress: the newest rotated file stays plain, the older ones are compressed.
  assert.deepEqual(files.sort(), ['access.log', 'access.log.1', ...Array.from({ length: ROTATIONS - 1 }, (_, i) => `access.log.${i + 2}.gz`)]);
  const seen = new Map<number, number>();
  for (const f of files) {
    const raw = readFileSync(join(dir, f));
    const text = (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const m = /"GET \S+\?n=(\d+) HTTP\/1\.1" 200 /.exec(line);
      assert.ok(m, `not a combined access line in ${f}: ${line}`);
      seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
    }
  }
  const missing = Array.from({ length: sent }, (_, n) => n).filter((n) => !seen.has(n));
  const twice = [...seen].filter(([, c]) => c > 1).map(([n]) => n);
  assert.deepEqual(missing, [], 'lost lines');
  assert.deepEqual(twice, [], 'duplicated lines');
  assert.equal(seen.size, sent);
  // The server log was rotated too, and says it reopened once per rotation.
  const serverLogs = readdirSync(dir).filter((f) => f.startsWith('forkfast.log'));
  let reopened = 0;
  for (const f of serverLogs) {
    const raw = readFileSync(join(dir, f));
    reopened += (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8').split('\n').filter((l) => l.includes('"msg":"log files reopened"')).length;
  }
  assert.equal(reopened, ROTATIONS, outputs.join('\n'));
});
