// `forkfast pool`'s status: nginx forwards /status and /ping as PHP-FPM's are; the --stats listener.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { ROOT, killAllPools, makeFixtureDir, sleep, startPool } from '../pool/harness.js';
import { freePort, findTool } from '../fastcgi/peers.js';
import { parseMetrics, parserMissing, sample } from './metrics-parse.js';

after(killAllPools);

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** examples/nginx.conf with the test's ports, in a minimal main config rooted in `dir`. */
function nginxConfig(dir: string, httpPort: number, poolPort: number): string {
  const site = readFileSync(join(ROOT, 'examples', 'nginx.conf'), 'utf8')
    .replace('server 127.0.0.1:9000;', `server 127.0.0.1:${poolPort};`)
    .replace('listen 8080;', `listen 127.0.0.1:${httpPort};`);
  const tmp = join(dir, 'nginx-tmp');
  mkdirSync(tmp, { recursive: true });
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body;
  fastcgi_temp_path ${tmp}/fastcgi;
  proxy_temp_path ${tmp}/proxy;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
${site}
}
`;
}

async function startNginx(nginx: string, confPath: string, httpPort: number): Promise<ChildProcess> {
  const proc = spawn(nginx, ['-c', confPath], { stdio: 'ignore' });
  const deadline = Date.now() + 5000;
  while (!(await get(httpPort, '/nothing').then(() => true, () => false))) {
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('nginx did not start');
    }
    await sleep(50);
  }
  return proc;
}

function stopNginx(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGQUIT');
  });
}

test('nginx forwards /status and /ping to the pool; the --stats listener serves status and metrics', { timeout: 90_000 }, async (t) => {
  const nginx = findTool('nginx', '/usr/sbin/nginx');
  if (nginx === null) return t.skip('nginx not installed');
  const fixtures = makeFixtureDir();
  const poolPort = await freePort();
  const statsPort = await freePort();
  const pool = await startPool({ workers: 2, listen: `127.0.0.1:${poolPort}`, extraArgs: ['--status-path', '/status', '--ping-path', '/ping', '--stats', `127.0.0.1:${statsPort}`, '--pool-name', 'www'] }, fixtures);
  let proc: ChildProcess | null = null;
  try {
    const httpPort = await freePort();
    const confPath = join(fixtures.dir, 'nginx.conf');
    writeFileSync(confPath, nginxConfig(fixtures.dir, httpPort, poolPort));
    const check = spawnSync(nginx, ['-t', '-c', confPath], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    proc = await startNginx(nginx, confPath, httpPort);

    assert.equal((await get(httpPort, '/ping')).body, 'pong\n');
    const sent = 200;
    for (let i = 0; i < sent; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => get(httpPort, '/fcgi-bin/counter.mjs')));
      assert.ok(batch.every((r) => r.status === 200));
    }
    const busy = get(httpPort, '/fcgi-bin/slow.mjs?ms=3000');
    type Status = Record<string, unknown> & { processes: Array<Record<string, unknown>> };
    const read = async (): Promise<Status> => JSON.parse((await get(httpPort, '/status?json&full')).body) as Status;
    const deadline = Date.now() + 5000;
    let reads = 1;
    let status = await read();
    while (!status.processes.some((p) => p['state'] === 'Running' && p['request uri'] === '/fcgi-bin/slow.mjs?ms=3000') && Date.now() < deadline) {
      await sleep(50);
      status = await read();
      reads += 1;
    }
    assert.equal(status['pool'], 'www');
    // The ping, the requests sent, the slow one, and the status requests themselves.
    assert.equal(status['accepted conn'], 1 + sent + 1 + reads);
    const running = status.processes.filter((p) => p['request uri'] === '/fcgi-bin/slow.mjs?ms=3000');
    assert.equal(running.length, 1, JSON.stringify(status.processes));
    assert.equal(running[0]!['state'], 'Running');
    assert.match(String(running[0]!['script']), /slow\.mjs$/);
    assert.equal((await busy).status, 200);
    // PHP-FPM's default format is text.
    assert.match((await get(httpPort, '/status')).body, /^pool: +www$/m);
    assert.match((await get(httpPort, '/status?html')).body, /http-equiv="refresh"/);

    // The stats listener: the same status (the master reads it, no worker request counted).
    const stats = JSON.parse((await get(statsPort, '/status?full')).body) as Record<string, unknown> & { processes: unknown[] };
    assert.equal(stats['accepted conn'], 1 + sent + 1 + reads + 2);
    assert.equal(stats.processes.length, 2);
    assert.equal((await get(statsPort, '/ping')).body, 'pong\n');
    const missing = parserMissing();
    if (missing !== null) return t.skip(missing);
    const fams = parseMetrics((await get(statsPort, '/metrics')).body, 'prometheus');
    assert.equal(sample(fams, 'forkfast_pool_accepted_requests_total'), 1 + sent + 1 + reads + 2);
    assert.equal(sample(fams, 'forkfast_pool_workers', { state: 'idle' }), 2);
  } finally {
    if (proc) await stopNginx(proc);
    await pool.close();
  }
});

test('the pool refuses status to clients outside --status-allow with a bare 403', { timeout: 60_000 }, async () => {
  const fixtures = makeFixtureDir();
  const statsPort = await freePort();
  const pool = await startPool({ workers: 1, extraArgs: ['--status-path', '/status', '--stats', `127.0.0.1:${statsPort}`, '--status-allow', '192.0.2.0/24'] }, fixtures);
  try {
    for (const path of ['/status', '/metrics', '/ping']) {
      const r = await get(statsPort, path);
      assert.equal(r.status, 403, path);
      assert.equal(r.body, '');
    }
  } finally {
    await pool.close();
  }
});
