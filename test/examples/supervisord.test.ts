// examples/supervisord.conf under a real supervisord: SIGKILL the pool master, supervisord brings it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../pool/harness.js';
import { fcgiRequest } from '../pool/fcgi-client.js';
import { alive, freePort, until } from './helpers.js';

function readPid(file: string): number {
  if (!existsSync(file)) return 0;
  return Number.parseInt(readFileSync(file, 'utf8'), 10) || 0;
}

test('supervisord runs the example program section and restarts the pool after a SIGKILL', { timeout: 90_000 }, async (t) => {
  if (spawnSync('supervisord', ['--version']).status !== 0) return t.skip('supervisord not installed (apt-get install supervisor)');
  const dir = mkdtempSync(join(tmpdir(), 'ff-supervisord-'));
  const port = await freePort();
  const pidFile = join(dir, 'forkfast.pid');
  // The example section with this checkout's paths; `user=` needs a www-data that can read the checkout.
  const section = readFileSync(join(ROOT, 'examples', 'supervisord.conf'), 'utf8')
    .replace('/usr/bin/node', process.execPath)
    .replace('/srv/forkfast/node_modules/forkfast/dist/src/cli.js', join(ROOT, 'dist', 'src', 'cli.js'))
    .replace('/srv/forkfast/cgi-bin', join(ROOT, 'cgi-bin'))
    .replace('127.0.0.1:9000', `127.0.0.1:${port}`)
    .replace('--workers 4', '--workers 1')
    .replace('/run/forkfast/forkfast.pid', pidFile)
    .replaceAll('/var/log/forkfast', dir)
    .replace('directory=/srv/forkfast', `directory=${dir}`)
    .replace(/^user=.*\n/m, '');
  assert.match(section, new RegExp(`--listen 127\\.0\\.0\\.1:${port} `));
  const conf = join(dir, 'supervisord.conf');
  writeFileSync(conf, `[supervisord]\nnodaemon=true\nlogfile=${join(dir, 'supervisord.log')}\npidfile=${join(dir, 'supervisord.pid')}\nchildlogdir=${dir}\n\n${section}`);
  const sup = spawn('supervisord', ['-n', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  sup.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  sup.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const supExited = new Promise((r) => sup.once('exit', r));
  t.after(async () => {
    if (sup.exitCode === null) sup.kill('SIGTERM');
    const timer = setTimeout(() => sup.kill('SIGKILL'), 20_000);
    await supExited;
    clearTimeout(timer);
    const pid = readPid(pidFile);
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
  });
  const context = (): string => `${out}\n${existsSync(join(dir, 'supervisord.log')) ? readFileSync(join(dir, 'supervisord.log'), 'utf8') : ''}`;
  const serves = async (): Promise<boolean> => {
    try {
      const r = await fcgiRequest({ host: '127.0.0.1', port }, { SCRIPT_FILENAME: 'hello.mjs', SCRIPT_NAME: '/fcgi-bin/hello.mjs', REQUEST_METHOD: 'GET', REQUEST_URI: '/fcgi-bin/hello.mjs' }, { timeoutMs: 2000 });
      return r.stdout.includes('hello');
    } catch {
      return false;
    }
  };
  const waitServing = async (what: string): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!(await serves())) {
      if (Date.now() > deadline) throw new Error(`${what}: the pool does not serve: ${context()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  await until('the first pid file', () => readPid(pidFile) > 0, 30_000).catch((err: Error) => assert.fail(`${err.message}: ${context()}`));
  await waitServing('first start');
  const first = readPid(pidFile);
  process.kill(first, 'SIGKILL');
  await until('the killed master to go', () => !alive(first), 5000);
  await until('a new master', () => readPid(pidFile) > 0 && readPid(pidFile) !== first && alive(readPid(pidFile)), 30_000).catch((err: Error) => assert.fail(`${err.message}: ${context()}`));
  await waitServing('after SIGKILL');
  const second = readPid(pidFile);
  assert.match(readFileSync(join(dir, 'supervisord.log'), 'utf8'), /exited: forkfast \(terminated by SIGKILL/);

  // supervisord's own stop stops the pool (SIGTERM, drained within stopwaitsecs).
  sup.kill('SIGTERM');
  await supExited;
  await until('the pool to stop with supervisord', () => !alive(second), 20_000);
  assert.match(readFileSync(join(dir, 'supervisord.log'), 'utf8'), /stopped: forkfast \(exit status 0\)/);
});
