// The CLI contract: usage errors exit 2 with one line, runtime failures exit 1, precedence of sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startServer } from '../helpers/server.js';
import { mergeSources, SERVE_OPTIONS, serveConfig } from '../../src/config.js';

function oneLine(s: string): void {
  assert.equal(s.trim().split('\n').length, 1, `expected one line, got: ${s}`);
}

test('--help and --version exit 0', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /serve/);
  assert.match(help.stdout, /pool/);
  const serveHelp = await runCli(['serve', '--help']);
  assert.equal(serveHelp.code, 0);
  assert.match(serveHelp.stdout, /--listen/);
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
});

test('an unknown flag exits 2 with a one-line reason', async () => {
  const r = await runCli(['serve', '--no-such-flag']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option '--no-such-flag'/);
  oneLine(r.stderr);
});

test('an invalid port exits 2', async () => {
  for (const listen of ['70000', 'localhost:http', '1.2.3.4:']) {
    const r = await runCli(['serve', '--listen', listen]);
    assert.equal(r.code, 2, listen);
    assert.match(r.stderr, /invalid/);
    oneLine(r.stderr);
  }
});

test('a missing directory exits 2 and names it', async () => {
  const r = await runCli(['serve', '--public', 'no/such/dir']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /public directory not found: .*no\/such\/dir/);
  oneLine(r.stderr);
});

test('a bad config file exits 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-cli-'));
  writeFileSync(join(dir, 'bad.json'), '{"listen": ');
  writeFileSync(join(dir, 'unknown.json'), '{"nope": 1}');
  const bad = await runCli(['serve', '--config', join(dir, 'bad.json')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /config file .*bad\.json: invalid JSON at line 1, column \d+/);
  const unknown = await runCli(['serve', '--config', join(dir, 'unknown.json')]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option "nope"/);
});

test('a port in use exits 1 with a clear message, not a stack', async (t) => {
  const first = await startServer();
  t.after(() => first.stop());
  const r = await runCli(['serve', '--listen', `127.0.0.1:${first.port}`, '--log-level', 'silent']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: address already in use/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('flags win over environment, environment over file, file over defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ listen: '127.0.0.1:7001', 'log-level': 'warn', workers: 3, maxBodySize: '1k' }));
  const env = { FORKFAST_CONFIG: file, FORKFAST_LOG_LEVEL: 'error', FORKFAST_WORKERS: '5' };
  const merged = mergeSources(SERVE_OPTIONS, { flags: { workers: '7' }, env });
  assert.equal(merged.values['listen'], '127.0.0.1:7001');
  assert.equal(merged.sources['listen'], 'file');
  assert.equal(merged.values['logLevel'], 'error');
  assert.equal(merged.sources['logLevel'], 'env');
  assert.equal(merged.values['workers'], '7');
  assert.equal(merged.sources['workers'], 'flag');
  assert.equal(merged.sources['keepAliveTimeout'], 'default');
  const config = serveConfig({ flags: {}, env });
  assert.equal(config.pool.workers, 5);
  assert.equal(config.limits.maxBodySize, 1024);
  assert.deepEqual(config.listen, { kind: 'tcp', host: '127.0.0.1', port: 7001 });
});

test('listen addresses: port, host:port, IPv6, unix path', () => {
  const listen = (v: string): unknown => serveConfig({ flags: { listen: v }, env: {} }).listen;
  assert.deepEqual(listen('8081'), { kind: 'tcp', host: '127.0.0.1', port: 8081 });
  assert.deepEqual(listen('0.0.0.0:80'), { kind: 'tcp', host: '0.0.0.0', port: 80 });
  assert.deepEqual(listen('[::1]:8080'), { kind: 'tcp', host: '::1', port: 8080 });
  assert.equal((listen('./run/ff.sock') as { kind: string }).kind, 'unix');
});

test('a unix socket path: a live server is left alone (exit 1), a stale socket file is replaced', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-sock-'));
  const path = join(dir, 'ff.sock');
  // A stale socket: its owner was killed before it could unlink the file.
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.ok(statSync(path).isSocket(), 'the stale socket file is there');
  const s = await startServer(['--listen', path]);
  t.after(() => s.stop());
  const status = await new Promise<number>((resolveGet) => {
    httpGet({ socketPath: path, path: '/-/status' }, (res) => {
      res.resume();
      resolveGet(res.statusCode ?? 0);
    });
  });
  assert.equal(status, 200);
  const second = await runCli(['serve', '--listen', path, '--log-level', 'silent']);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /address already in use/);
  assert.ok(statSync(path).isSocket(), 'the live server keeps its socket');
});
