// Starting real FastCGI peers for tests: nginx in front of our responder, php-fpm behind our client.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The first of `names` found on PATH (or in the sbin directories), else null. */
export function findTool(...names: string[]): string | null {
  for (const name of names) {
    const r = spawnSync('sh', ['-c', `command -v ${name} || ls /usr/sbin/${name} /usr/local/sbin/${name} 2>/dev/null`], { encoding: 'utf8' });
    const path = r.stdout.split('\n')[0]?.trim();
    if (path) return path;
  }
  return null;
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Polls until something accepts TCP connections on the port. */
export async function waitForPort(port: number, child: ChildProcess, deadlineMs = 5000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`peer exited with ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

export interface Peer {
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Debian's fastcgi_params, copied so the test does not depend on /etc/nginx. */
const FASTCGI_PARAMS = `
fastcgi_param  QUERY_STRING       $query_string;
fastcgi_param  REQUEST_METHOD     $request_method;
fastcgi_param  CONTENT_TYPE       $content_type;
fastcgi_param  CONTENT_LENGTH     $content_length;
fastcgi_param  SCRIPT_NAME        $fastcgi_script_name;
fastcgi_param  REQUEST_URI        $request_uri;
fastcgi_param  DOCUMENT_URI       $document_uri;
fastcgi_param  DOCUMENT_ROOT      $document_root;
fastcgi_param  SERVER_PROTOCOL    $server_protocol;
fastcgi_param  REQUEST_SCHEME     $scheme;
fastcgi_param  HTTPS              $https if_not_empty;
fastcgi_param  GATEWAY_INTERFACE  CGI/1.1;
fastcgi_param  SERVER_SOFTWARE    nginx/$nginx_version;
fastcgi_param  REMOTE_ADDR        $remote_addr;
fastcgi_param  REMOTE_PORT        $remote_port;
fastcgi_param  REMOTE_USER        $remote_user;
fastcgi_param  SERVER_ADDR        $server_addr;
fastcgi_param  SERVER_PORT        $server_port;
fastcgi_param  SERVER_NAME        $server_name;
fastcgi_param  REDIRECT_STATUS    200;
`;

/** nginx (unprivileged config in a temp dir) proxying to a FastCGI server on `upstreamPort`. */
export async function startNginx(nginx: string, upstreamPort: number, keepalive = 2): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-nginx-'));
  const port = await freePort();
  writeFileSync(join(dir, 'fastcgi_params'), FASTCGI_PARAMS);
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  writeFileSync(join(dir, 'nginx.conf'), `${user}
worker_processes 1;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  fastcgi_temp_path ${dir}/fastcgi;
  proxy_temp_path ${dir}/proxy;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive ${keepalive};
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 10m;
    location / {
      include ${dir}/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME /srv$fastcgi_script_name;
      fastcgi_keep_conn on;
      fastcgi_pass app;
    }
  }
}
`);
  const child = spawn(nginx, ['-c', join(dir, 'nginx.conf'), '-p', dir, '-g', `daemon off; pid ${dir}/nginx.pid;`], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  await waitForPort(port, child);
  return { port, dir, stop: () => stopChild(child, dir) };
}

/** php-fpm with a temp config: pm static, listening on a temp TCP port. */
export async function startPhpFpm(fpm: string, docroot: string): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-fpm-'));
  const port = await freePort();
  const root = process.getuid?.() === 0;
  writeFileSync(join(dir, 'fpm.conf'), `[global]
pid = ${dir}/fpm.pid
error_log = ${dir}/fpm.log
daemonize = no
[www]
${root ? 'user = root\ngroup = root' : ''}
listen = 127.0.0.1:${port}
pm = static
pm.max_children = 2
catch_workers_output = yes
chdir = ${docroot}
`);
  const args = ['-F', '-n', '-y', join(dir, 'fpm.conf')];
  if (root) args.push('-R');
  const child = spawn(fpm, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  await waitForPort(port, child);
  return { port, dir, stop: () => stopChild(child, dir) };
}
