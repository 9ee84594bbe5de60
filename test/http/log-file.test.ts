// --log-file and --access-log: JSON lines and combined lines in files, flushed within a second and
// on the way out, reopened on SIGUSR1 (the master's file and every pool worker's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, repoRoot } from '../helpers/server.js';
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { cliPath } from '../helpers/server.js';
import { createLogger } from '../../src/log.js';
import { createAccessLog } from '../../src/http/access-log.js';

const T = { timeout: 60_000 };

function lines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
}

async function until<V>(what: string, fn: () => V | undefined | false, ms = 10_000): Promise<V> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  await res.arrayBuffer();
  return res.status;
}

/** The helper reads 'listening' from stdout: with --log-file, the test reads it from the file instead. */
const LOG_DEBUG = ['--log-level', 'info'];

test('serve --access-log combined: Apache/NCSA lines in their own file, within a second', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-log-'));
  const access = join(dir, 'access.log');
  const s = await startServer(['--access-log', 'combined', '--access-log-file', access, ...LOG_DEBUG, '--workers', '1']);
  t.after(() => s.stop());
  assert.equal(await get(s.port, '/index.html?q=1', { referer: 'http://example.test/a"b', 'user-agent': 'tester/1.0' }), 200);
  assert.equal(await get(s.port, '/no-such-file'), 404);
  const started = Date.now();
  const got = await until('two access lines', () => (lines(access).length >= 2 ? lines(access) : undefined), 5000);
  assert.ok(Date.now() - started < 2500, 'flushed within about a second');
  // %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i", as GoAccess's COMBINED format reads it.
  const combined = /^(\S+) - - \[(\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "([A-Z]+) (\S+) HTTP\/1\.1" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$/;
  const first = combined.exec(got[0]!);
  assert.ok(first, got[0]);
  assert.equal(first[1], '127.0.0.1');
  assert.equal(first[4], '/index.html?q=1');
  assert.equal(first[5], '200');
  assert.equal(Number(first[6]), readFileSync(join(repoRoot, 'public', 'index.html')).length, '%b is the body size');
  assert.equal(first[7], 'http://example.test/a\\x22b');
  assert.equal(first[8], 'tester/1.0');
  const second = combined.exec(got[1]!);
  assert.ok(second, got[1]);
  assert.equal(second[5], '404');
  // The JSON server log (stdout here) carries no access line.
  assert.equal(s.logs().filter((l) => l['msg'] === 'request').length, 0);
});

test('serve --log-file: JSON lines in the file, SIGUSR1 reopens it, nothing lost, every way out flushes', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-log-'));
  const log = join(dir, 'forkfast.log');
  const s = await startServer(['--log-file', log, ...LOG_DEBUG, '--workers', '1'], { readyFile: log });
  t.after(() => s.stop());
  assert.equal(await get(s.port, '/index.html?n=1'), 200);
  assert.equal(await get(s.port, '/fcgi-bin/hello.mjs?n=2'), 200);
  await until('two access lines', () => lines(log).filter((l) => l.includes('"msg":"request"')).length >= 2);
  const parsed = lines(log).map((l) => JSON.parse(l) as Record<string, unknown>);
  const req = parsed.find((l) => l['msg'] === 'request' && l['path'] === '/index.html?n=1')!;
  assert.equal(req['status'], 200);
  assert.equal(req['route'], 'static');
  assert.equal(req['level'], 30);
  assert.equal(typeof req['reqId'], 'string');
  assert.equal(req['completed'], true);
  assert.ok(parsed.some((l) => l['msg'] === 'worker ready'), 'the embedded pool logs to the file too');

  // logrotate without copytruncate: rename, then SIGUSR1.
  renameSync(log, log + '.1');
  assert.equal(await get(s.port, '/index.html?n=3'), 200); // before the signal: goes to the old file
  s.proc.kill('SIGUSR1');
  await until('the reopened file', () => lines(log).some((l) => l.includes('log files reopened')));
  assert.equal(await get(s.port, '/index.html?n=4'), 200);
  // Straight to SIGTERM: the line of n=4 sits in the buffer and must be written on the way out.
  assert.equal(await s.stop(), 0);
  const all = [...lines(log + '.1'), ...lines(log)].map((l) => JSON.parse(l) as Record<string, unknown>);
  const paths = all.filter((l) => l['msg'] === 'request').map((l) => String(l['path']));
  assert.deepEqual(paths.sort(), ['/fcgi-bin/hello.mjs?n=2', '/index.html?n=1', '/index.html?n=3', '/index.html?n=4']);
  assert.ok(lines(log + '.1').some((l) => l.includes('?n=3')), 'n=3 was written before the reopen, to the renamed file');
  assert.ok(lines(log).some((l) => l.includes('?n=4')), 'n=4 went to the new file');
  assert.ok(lines(log).some((l) => l.includes('"msg":"stopped"')));
});

test('serve --access-log off: no access line at all', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-log-'));
  const log = join(dir, 'forkfast.log');
  const s = await startServer(['--log-file', log, '--workers', '1', '--access-log', 'off', ...LOG_DEBUG], { readyFile: log });
  t.after(() => s.stop());
  assert.equal(await get(s.port, '/index.html'), 200);
  assert.equal(await get(s.port, '/fcgi-bin/hello.mjs'), 200);
  assert.equal(await s.stop(), 0);
  assert.ok(lines(log).some((l) => l.includes('"msg":"stopped"')));
  assert.equal(lines(log).filter((l) => l.includes('"msg":"request"')).length, 0);
});

test('a JSON access line is an info line: a higher --log-level drops it', () => {
  const warn = createLogger({ level: 'warn', destination: new PassThrough() });
  assert.equal(createAccessLog('json', () => assert.fail('written'), warn), undefined);
  assert.notEqual(createAccessLog('combined', () => {}, warn), undefined, 'the combined log is not the server log');
});

test('pool --log-file: master and workers write to it, and all reopen it on SIGUSR1', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-log-'));
  const log = join(dir, 'pool.log');
  const proc = spawn(process.execPath, [cliPath, 'pool', '--listen', join(dir, 'pool.sock'), '--cgi-bin', join(repoRoot, 'cgi-bin'), '--workers', '2', '--log-file', log], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => proc.once('exit', r));
  t.after(() => proc.kill('SIGKILL'));
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  await until('both workers ready in the file', () => lines(log).filter((l) => l.includes('"msg":"worker ready"')).length >= 2, 20_000);
  renameSync(log, log + '.1');
  proc.kill('SIGUSR1');
  await until('the reopened file', () => lines(log).some((l) => l.includes('log files reopened')));
  // Worker lines after the signal: on stop, each worker logs that it drains.
  await new Promise((r) => setTimeout(r, 300));
  proc.kill('SIGTERM');
  await exited;
  assert.equal(out, '', 'nothing on stdout or stderr');
  const masterPid = proc.pid;
  const fresh = lines(log).map((l) => JSON.parse(l) as Record<string, unknown>);
  const workerLines = fresh.filter((l) => l['pid'] !== masterPid && l['component'] === 'worker');
  assert.ok(workerLines.length >= 2, `worker lines in the new file: ${JSON.stringify(fresh)}`);
  assert.equal(lines(log + '.1').filter((l) => l.includes('"msg":"worker draining"')).length, 0, 'no worker kept the old file');
});
