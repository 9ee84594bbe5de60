// nginx in front of the pool over FastCGI, uwsgi and SCGI, with Debian's own *_params files:
// the cases nginx-tests checks for each protocol (bodies, merged headers, Location, HEAD, stderr,
// split responses) plus an nph- script's status.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ROOT, killAllPools, makeFixtureDir, sleep, startPool, type PoolProcess } from './harness.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';

after(killAllPools);

type Protocol = 'fastcgi' | 'uwsgi' | 'scgi';
const PROTOCOLS: readonly Protocol[] = ['fastcgi', 'uwsgi', 'scgi'];

const SCRIPTS: Record<string, string> = {
  'env.cgi': `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'xff=%s\\ncookie=%s\\nlen=%s\\nmethod=%s\\npath_info=%s\\nquery=%s\\n' "$HTTP_X_FORWARDED_FOR" "$HTTP_COOKIE" "$CONTENT_LENGTH" "$REQUEST_METHOD" "$PATH_INFO" "$QUERY_STRING"
`,
  'loc.cgi': `#!/bin/sh\nprintf 'Location: http://example.com/there\\r\\n\\r\\n'\n`,
  'err.cgi': `#!/bin/sh\necho "stderr-line-for-the-log-only" >&2\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n`,
  'body.mjs': `export default async (request) => new Response('module got ' + (await request.text()).length + ' bytes\\n');\n`,
};

function findNginx(): string | null {
  for (const bin of ['nginx', '/usr/sbin/nginx']) if (spawnSync(bin, ['-v']).status === 0) return bin;
  return null;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** One location per protocol: /fastcgi/<script>, /uwsgi/<script>, /scgi/<script>. */
function location(protocol: Protocol, port: number): string {
  const p = protocol === 'fastcgi' ? 'fastcgi' : protocol;
  const pass = protocol === 'fastcgi' ? `fastcgi_pass ff_fastcgi;\n    fastcgi_keep_conn on;` : `${p}_pass 127.0.0.1:${port};`;
  return `  location ~ ^/${protocol}/(?<ff_script>[^/]+)(?<ff_path_info>/.*)?$ {
    include /etc/nginx/${p}_params;
    ${p}_param SCRIPT_FILENAME $ff_script;
    ${p}_param SCRIPT_NAME /${protocol}/$ff_script;
    ${p}_param PATH_INFO $ff_path_info;
    ${p}_buffering off;
    ${pass}
  }
`;
}

function nginxConfig(dir: string, httpPort: number, ports: Record<Protocol, number>): string {
  const tmp = join(dir, 'nginx-tmp');
  mkdirSync(tmp, { recursive: true });
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} info;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body;
  fastcgi_temp_path ${tmp}/fastcgi;
  proxy_temp_path ${tmp}/proxy;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  upstream ff_fastcgi { server 127.0.0.1:${ports.fastcgi}; keepalive 4; }
  server {
    listen 127.0.0.1:${httpPort};
${PROTOCOLS.map((p) => location(p, ports[p])).join('')}  }
}
`;
}

/** The body of a response read to the close, chunked framing removed. */
function bodyOf(r: RawResponse): string {
  if (r.headers['transfer-encoding'] !== 'chunked') return r.body.toString('latin1');
  let rest = r.body.toString('latin1');
  let out = '';
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

function send(port: number, head: string, body = ''): Promise<RawResponse> {
  return rawRequest(port, `${head}\r\nHost: localhost\r\nConnection: close\r\n\r\n${body}`, 10_000);
}

test('nginx with Debian *_params in front of the pool over FastCGI, uwsgi and SCGI', { timeout: 90_000 }, async (t) => {
  const nginx = findNginx();
  if (nginx === null) return t.skip('nginx not installed');
  const missing = PROTOCOLS.map((p) => `/etc/nginx/${p}_params`).filter((f) => !existsSync(f));
  if (missing.length > 0) return t.skip(`Debian's nginx params files are missing: ${missing.join(', ')}`);
  const fixtures = makeFixtureDir();
  for (const [name, text] of Object.entries(SCRIPTS)) {
    writeFileSync(join(fixtures.cgiBin, name), text);
    if (name.endsWith('.cgi')) chmodSync(join(fixtures.cgiBin, name), 0o755);
  }
  copyFileSync(join(ROOT, 'test', 'fixtures', 'cgi-bin', 'nph-test.cgi'), join(fixtures.cgiBin, 'nph-test.cgi'));
  chmodSync(join(fixtures.cgiBin, 'nph-test.cgi'), 0o755);
  const ports = { fastcgi: await freePort(), uwsgi: await freePort(), scgi: await freePort() };
  const pools: PoolProcess[] = [];
  let proc: ChildProcess | null = null;
  try {
    for (const p of PROTOCOLS) pools.push(await startPool({ workers: 1, listen: `127.0.0.1:${ports[p]}`, extraArgs: ['--protocol', p] }, fixtures));
    const httpPort = await freePort();
    const confPath = join(fixtures.dir, 'nginx.conf');
    writeFileSync(confPath, nginxConfig(fixtures.dir, httpPort, ports));
    const check = spawnSync(nginx, ['-t', '-c', confPath], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    proc = spawn(nginx, ['-c', confPath], { stdio: 'ignore' });
    const deadline = Date.now() + 5000;
    while (!(await send(httpPort, 'GET /nothing HTTP/1.1').then(() => true, () => false))) {
      assert.ok(Date.now() < deadline, 'nginx did not start');
      await sleep(50);
    }

    for (const p of PROTOCOLS) {
      const at = `/${p}`;
      // A handler module and a program, PATH_INFO and the query string.
      const counter = await send(httpPort, `GET ${at}/counter.mjs HTTP/1.1`);
      assert.equal(counter.status, 200, `${p}: ${counter.raw.toString()}`);
      assert.match(bodyOf(counter), /count=\d+/);
      const hello = await send(httpPort, `GET ${at}/hello.cgi/extra?x=1 HTTP/1.1`);
      assert.equal(bodyOf(hello), 'hello x=1\n', p);

      // No body, an empty body, a body, a chunked body, an empty chunked body.
      const none = await send(httpPort, `GET ${at}/env.cgi/pi?q=1 HTTP/1.1`);
      // SCGI always sends CONTENT_LENGTH (0 without a body); FastCGI and uwsgi send it empty.
      assert.match(bodyOf(none), p === 'scgi' ? /^len=0$/m : /^len=$/m, p);
      assert.match(bodyOf(none), /^method=GET$/m, p);
      assert.match(bodyOf(none), /^path_info=\/pi$/m, p);
      assert.match(bodyOf(none), /^query=q=1$/m, p);
      assert.equal(bodyOf(await send(httpPort, `POST ${at}/echo.cgi HTTP/1.1\r\nContent-Length: 0`)), '', `${p}: empty body`);
      assert.equal(bodyOf(await send(httpPort, `POST ${at}/echo.cgi HTTP/1.1\r\nContent-Length: 11`, 'hello world')), 'hello world', `${p}: body`);
      const chunked = await send(httpPort, `POST ${at}/echo.cgi HTTP/1.1\r\nTransfer-Encoding: chunked`, '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
      assert.equal(bodyOf(chunked), 'hello world', `${p}: chunked body`);
      const emptyChunked = await send(httpPort, `POST ${at}/echo.cgi HTTP/1.1\r\nTransfer-Encoding: chunked`, '0\r\n\r\n');
      assert.equal(emptyChunked.status, 200, p);
      assert.equal(bodyOf(emptyChunked), '', `${p}: empty chunked body`);
      const big = 'b'.repeat(200_000);
      assert.equal(bodyOf(await send(httpPort, `POST ${at}/body.mjs HTTP/1.1\r\nContent-Length: ${big.length}`, big)), `module got ${big.length} bytes\n`, `${p}: module body`);

      // Repeated request header lines, merged.
      const merged = await send(httpPort, `GET ${at}/env.cgi HTTP/1.1\r\nX-Forwarded-For: a\r\nX-Forwarded-For: b\r\nCookie: a=1\r\nCookie: b=2`);
      assert.match(bodyOf(merged), /^xff=a, b$/m, p);
      assert.match(bodyOf(merged), /^cookie=a=1; b=2$/m, p);

      // A Location without a Status: 302 (RFC 3875 §6.2.4), from nginx's own parser.
      const loc = await send(httpPort, `GET ${at}/loc.cgi HTTP/1.1`);
      assert.equal(loc.status, 302, p);
      assert.equal(loc.headers['location'], 'http://example.com/there', p);

      // HEAD: the head, no body.
      const head = await send(httpPort, `HEAD ${at}/hello.cgi HTTP/1.1`);
      assert.equal(head.status, 200, p);
      assert.equal(head.body.length, 0, p);

      // stderr never reaches the client.
      const err = await send(httpPort, `GET ${at}/err.cgi HTTP/1.1`);
      assert.equal(bodyOf(err), 'ok\n', p);
      assert.doesNotMatch(err.raw.toString(), /stderr-line/, p);

      // A response written in two parts, 300 ms apart.
      assert.equal(bodyOf(await send(httpPort, `GET ${at}/slow.cgi HTTP/1.1`)), 'first\nsecond\n', p);

      // An nph- script: nginx answers with the script's status and reason phrase.
      const nph = await send(httpPort, `GET ${at}/nph-test.cgi?z HTTP/1.1`);
      assert.match(nph.head, /^HTTP\/1\.1 299 Custom NPH\r\n/, `${p}: ${nph.head}`);
      assert.equal(nph.headers['x-nph'], 'yes', p);
      assert.equal(bodyOf(nph), 'nph body z\n', p);
    }
    await sleep(100);
    assert.match(readFileSync(join(fixtures.dir, 'nginx-error.log'), 'utf8'), /FastCGI sent in stderr: "stderr-line-for-the-log-only/);
    // uwsgi and SCGI have no stderr stream: the pool logs the line.
    for (const pool of pools.slice(1)) assert.ok(pool.lines.some((l) => l['line'] === 'stderr-line-for-the-log-only'));
  } finally {
    if (proc !== null && proc.exitCode === null) {
      const exited = new Promise((resolve) => proc!.once('exit', resolve));
      proc.kill('SIGQUIT');
      const timer = setTimeout(() => proc!.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await Promise.all(pools.map((p) => p.close()));
  }
});
