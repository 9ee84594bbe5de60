// nginx in front of a real pool, configured by examples/nginx.conf: modules, programs, keep-alive.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { ROOT, killAllPools, makeFixtureDir, sleep, startPool } from './harness.js';

after(killAllPools);

function findNginx(): string | null {
  for (const bin of ['nginx', '/usr/sbin/nginx']) {
    const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
    if (r.status === 0) return bin;
  }
  return null;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** examples/nginx.conf with the test's ports, inside a minimal main config rooted in `dir`. */
function nginxConfig(dir: string, httpPort: number, poolPort: number): string {
  const site = readFileSync(join(ROOT, 'examples', 'nginx.conf'), 'utf8')
    .replace('server 127.0.0.1:9000;', `server 127.0.0.1:${poolPort};`)
    .replace('listen 8080;', `listen 127.0.0.1:${httpPort};`);
  assert.match(site, new RegExp(`127\\.0\\.0\\.1:${poolPort}`));
  const tmp = join(dir, 'nginx-tmp');
  mkdirSync(tmp, { recursive: true });
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} info;
events { worker_connections 128; }
http {
  access_log ${join(dir, 'nginx-access.log')};
  client_body_temp_path ${tmp}/body;
  fastcgi_temp_path ${tmp}/fastcgi;
  proxy_temp_path ${tmp}/proxy;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
${site}
}
`;
}

/** Established TCP connections from nginx to the pool port, by local port (from /proc/net/tcp). */
function connectionsTo(port: number): Set<number> {
  const out = new Set<number>();
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '01') continue; // 01: ESTABLISHED
    const [, localPort] = f[1]!.split(':');
    const [, remotePort] = f[2]!.split(':');
    if (remotePort === hex) out.add(parseInt(localPort!, 16));
  }
  return out;
}

function get(agent: http.Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** Starts nginx with `confPath`; resolves once it answers on `httpPort` (5 s at most). */
async function startNginx(nginx: string, confPath: string, agent: http.Agent, httpPort: number): Promise<ChildProcess> {
  const proc = spawn(nginx, ['-c', confPath], { stdio: 'ignore' });
  const deadline = Date.now() + 5000;
  while (!(await get(agent, httpPort, '/nothing').then(() => true, () => false))) {
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('nginx did not start');
    }
    await sleep(50);
  }
  return proc;
}

/** SIGQUIT (graceful), then SIGKILL after 3 s; resolves when nginx exited. */
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

test('nginx in front of the pool serves a handler module and a program over reused keep-alive connections', { timeout: 60_000 }, async (t) => {
  const nginx = findNginx();
  if (nginx === null) return t.skip('nginx not installed');
  const fixtures = makeFixtureDir();
  const poolPort = await freePort();
  const pool = await startPool({ workers: 1, listen: `127.0.0.1:${poolPort}`, workerTimeoutMs: 1500 }, fixtures);
  let proc: ChildProcess | null = null;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const httpPort = await freePort();
    const confPath = join(fixtures.dir, 'nginx.conf');
    writeFileSync(confPath, nginxConfig(fixtures.dir, httpPort, poolPort));
    const check = spawnSync(nginx, ['-t', '-c', confPath], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    proc = await startNginx(nginx, confPath, agent, httpPort);

    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await get(agent, httpPort, '/fcgi-bin/counter.mjs');
      assert.equal(r.status, 200, r.body);
      counts.push(Number(/count=(\d+)/.exec(r.body)?.[1]));
    }
    assert.deepEqual(counts, [1, 2, 3, 4, 5]);
    const first = connectionsTo(poolPort);
    assert.ok(first.size >= 1 && first.size <= 2, `nginx holds ${first.size} connections to the pool`);

    const prog = await get(agent, httpPort, '/fcgi-bin/hello.cgi/extra?x=1');
    assert.equal(prog.status, 200);
    assert.equal(prog.body, 'hello x=1\n');
    for (let i = 0; i < 5; i++) assert.equal((await get(agent, httpPort, '/fcgi-bin/slow.mjs?ms=1')).status, 200);
    // The same upstream connections carried every request: keep-alive reused, none reopened.
    const later = connectionsTo(poolPort);
    assert.deepEqual([...later].sort(), [...first].sort());

    assert.equal((await get(agent, httpPort, '/fcgi-bin/missing.mjs')).status, 404);
    assert.equal((await get(agent, httpPort, '/fcgi-bin/throw.mjs')).status, 500);
    // FCGI_STDERR lands in nginx's error log ("FastCGI sent in stderr").
    await sleep(100);
    assert.match(readFileSync(join(fixtures.dir, 'nginx-error.log'), 'utf8'), /FastCGI sent in stderr: "note from hello\.cgi/);

    // A handler that blocks its worker's event loop: the worker is killed at --worker-timeout and
    // nginx answers 502 at once, instead of holding the client until fastcgi_read_timeout.
    const started = Date.now();
    const blocked = await get(agent, httpPort, '/fcgi-bin/block.mjs?ms=30000');
    assert.equal(blocked.status, 502);
    assert.ok(Date.now() - started < 6000, `took ${Date.now() - started} ms`);
    await pool.waitFor((l) => /worker timed out/.test(l.msg), 5000, 'timeout line');
  } finally {
    agent.destroy();
    if (proc !== null) await stopNginx(proc);
    await pool.close();
  }
});

test('behind nginx keep-alive: SIGHUP reload and max-requests recycling under load fail no request', { timeout: 60_000 }, async (t) => {
  const nginx = findNginx();
  if (nginx === null) return t.skip('nginx not installed');
  const fixtures = makeFixtureDir();
  const poolPort = await freePort();
  const pool = await startPool({ workers: 2, listen: `127.0.0.1:${poolPort}`, maxRequests: 150, maxRequestsJitter: 50 }, fixtures);
  let proc: ChildProcess | null = null;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const httpPort = await freePort();
    const confPath = join(fixtures.dir, 'nginx.conf');
    writeFileSync(confPath, nginxConfig(fixtures.dir, httpPort, poolPort));
    proc = await startNginx(nginx, confPath, agent, httpPort);
    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const loops = Array.from({ length: 8 }, async () => {
      while (running) {
        try {
          const r = await get(agent, httpPort, '/fcgi-bin/counter.mjs');
          if (r.status === 200) ok += 1;
          else failures.push(`${r.status} ${r.body.slice(0, 100)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    });
    await sleep(500);
    const from = pool.lines.length;
    pool.signal('SIGHUP');
    await pool.waitFor((l) => l.msg === 'reload complete', 15_000, 'reload complete', from);
    await pool.waitUntil(() => pool.count('worker retiring; replacing it', from) >= 2, 20_000, 'two recycled workers');
    await sleep(300);
    running = false;
    await Promise.all(loops);
    const errorLog = readFileSync(join(fixtures.dir, 'nginx-error.log'), 'utf8');
    assert.deepEqual(failures, [], errorLog.split('\n').filter((l) => /\[error\]/.test(l)).slice(0, 5).join('\n'));
    assert.ok(ok > 200, `only ${ok} requests`);
  } finally {
    agent.destroy();
    if (proc !== null) await stopNginx(proc);
    await pool.close();
  }
});
