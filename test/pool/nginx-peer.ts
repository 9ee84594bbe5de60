// nginx as a peer for pool tests: finding it, a config built from examples/nginx.conf, start, stop.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { ROOT, sleep } from './harness.js';

export function findNginx(): string | null {
  for (const bin of ['nginx', '/usr/sbin/nginx']) {
    const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
    if (r.status === 0) return bin;
  }
  return null;
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** examples/nginx.conf with the test's ports, inside a minimal main config rooted in `dir`. */
export function nginxConfig(dir: string, httpPort: number, poolPort: number): string {
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
export function connectionsTo(port: number): Set<number> {
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

export function get(agent: http.Agent, port: number, path: string): Promise<{ status: number; body: string }> {
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
export async function startNginx(nginx: string, confPath: string, agent: http.Agent, httpPort: number): Promise<ChildProcess> {
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
export function stopNginx(proc: ChildProcess): Promise<void> {
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

/** A urlencoded POST on `agent` (keep-alive); resolves with the status and body. */
export function post(agent: http.Agent, port: number, path: string, form: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(form);
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', agent, timeout: 10_000, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/** nginx's "[error]" lines about the upstream, a few, for a failing assertion's message. */
export function upstreamErrors(dir: string): string {
  return readFileSync(join(dir, 'nginx-error.log'), 'utf8')
    .split('\n')
    .filter((l) => /\[error\]/.test(l))
    .slice(0, 5)
    .join('\n');
}
