// Interoperability with independent FastCGI implementations: nginx and cgi-fcgi drive our
// responder; our client drives php-fpm. A missing tool skips its test with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { createFastcgiClient } from '../../src/fastcgi/client.js';
import type { ResponderRequest } from '../../src/fastcgi/server.js';
import { listenResponder } from './helpers.js';
import { findTool, freePort, startNginx, startPhpFpm, waitForPort } from './peers.js';

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Answers with the meta-variables it was given and the length of the body. */
async function showEnv(r: ResponderRequest): Promise<void> {
  const body = await readAll(r.stdin);
  const lines = [...r.params].map(([k, v]) => `${k}=${v}`).sort();
  r.stdout.write(`Status: 201 Created\r\nContent-Type: text/plain\r\nX-Body-Length: ${body.length}\r\n\r\n`);
  r.stdout.write(lines.join('\n') + '\n');
  r.end();
}

function httpRequest(agent: http.Agent, port: number, path: string, method = 'GET', body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('nginx (fastcgi_pass, fastcgi_params, keep_conn, upstream keepalive) drives our responder and reuses the connection', { timeout: 30_000 }, async (t) => {
  const nginx = findTool('nginx');
  if (nginx === null) return t.skip('nginx not installed (Debian: nginx-light)');
  const l = await listenResponder({ onRequest: showEnv });
  const ng = await startNginx(nginx, l.port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 10; i++) {
      const r = await httpRequest(agent, ng.port, `/app/script.php/extra?i=${i}`, 'GET', undefined, { Proxy: 'http://evil.example' });
      assert.equal(r.status, 201);
      assert.match(r.body, new RegExp(`^QUERY_STRING=i=${i}$`, 'm'));
      assert.match(r.body, /^REQUEST_METHOD=GET$/m);
      assert.match(r.body, /^SCRIPT_FILENAME=\/srv\/app\/script.php\/extra$/m);
      assert.doesNotMatch(r.body, /HTTP_PROXY/);
    }
    const big = Buffer.alloc(300_000, 'b');
    const post = await httpRequest(agent, ng.port, '/post', 'POST', big, { 'content-type': 'application/octet-stream' });
    assert.equal(post.status, 201);
    assert.equal(post.headers['x-body-length'], String(big.length));
    assert.match(post.body, /^CONTENT_LENGTH=300000$/m);
    // fastcgi_keep_conn + keepalive: every request used the same FastCGI connection.
    assert.equal(l.responder.stats().connectionsTotal, 1);
    assert.equal(l.responder.stats().requestsTotal, 11);
  } finally {
    agent.destroy();
    await ng.stop();
    await l.close();
  }
});

test('cgi-fcgi (libfcgi) drives our responder with env vars and a body', { timeout: 30_000 }, async (t) => {
  const cgiFcgi = findTool('cgi-fcgi');
  if (cgiFcgi === null) return t.skip('cgi-fcgi not installed (Debian: libfcgi-bin)');
  const l = await listenResponder({ onRequest: showEnv });
  try {
    const child = spawn(cgiFcgi, ['-bind', '-connect', `127.0.0.1:${l.port}`], {
      env: { REQUEST_METHOD: 'POST', QUERY_STRING: 'from=libfcgi', CONTENT_LENGTH: '11', SCRIPT_FILENAME: '/srv/x' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    // Listen for 'exit' before reading: it can come before stdout's end (Node 24 does that now and then).
    const exited = new Promise((r) => child.once('exit', r));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stdin.end('hello world');
    const out = (await readAll(child.stdout)).toString();
    await exited;
    clearTimeout(timer);
    assert.match(out, /^Status: 201 Created\r\n/);
    assert.match(out, /X-Body-Length: 11\r\n/);
    assert.match(out, /^QUERY_STRING=from=libfcgi$/m);
  } finally {
    await l.close();
  }
});

test('our client drives php-fpm: env, POST body, status, headers, stderr, connection reuse', { timeout: 30_000 }, async (t) => {
  const fpm = findTool('php-fpm', 'php-fpm8.2', 'php-fpm8.3', 'php-fpm8.1');
  if (fpm === null) return t.skip('php-fpm not installed (Debian: php-fpm)');
  const docroot = mkdtempSync(join(tmpdir(), 'ff-php-'));
  writeFileSync(join(docroot, 'index.php'), `<?php
http_response_code(201);
header('X-Php: yes');
error_log('php says hello on stderr');
echo "method=", $_SERVER['REQUEST_METHOD'], "\\n";
echo "q=", $_SERVER['QUERY_STRING'], "\\n";
echo "body=", strlen(file_get_contents('php://input')), "\\n";
`);
  const peer = await startPhpFpm(fpm, docroot);
  const stderr: string[] = [];
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${peer.port}`], log: pino({ level: 'silent' }) });
  try {
    for (let i = 0; i < 3; i++) {
      const body = Buffer.alloc(70_000 + i, 'p');
      const res = await client.request({
        params: {
          SCRIPT_FILENAME: join(docroot, 'index.php'),
          REQUEST_METHOD: 'POST',
          QUERY_STRING: `n=${i}`,
          CONTENT_LENGTH: String(body.length),
          CONTENT_TYPE: 'application/octet-stream',
          SERVER_PROTOCOL: 'HTTP/1.1',
          GATEWAY_INTERFACE: 'CGI/1.1',
        },
        body: Readable.from([body]),
        onStderr: (c) => stderr.push(c.toString()),
      });
      const text = (await readAll(res.stdout)).toString();
      assert.match(text, /^Status: 201 Created\r\n/);
      assert.match(text, /X-Php: yes\r\n/i);
      assert.match(text, new RegExp(`method=POST\\nq=n=${i}\\nbody=${body.length}\\n$`));
      assert.equal((await res.ended).protocolStatus, 0);
    }
    assert.match(stderr.join(''), /php says hello on stderr/);
    const st = client.stats().upstreams[0]!;
    assert.equal(st.mpxs, false, 'php-fpm does not multiplex');
    assert.equal(st.connections, 1, 'one kept-alive connection served the three requests');
  } finally {
    await client.close();
    await peer.stop();
    rmSync(docroot, { recursive: true, force: true });
  }
});

test('our client drives php-cgi -b (ends with END_REQUEST without an empty STDOUT record)', { timeout: 30_000 }, async (t) => {
  const phpCgi = findTool('php-cgi');
  if (phpCgi === null) return t.skip('php-cgi not installed (Debian: php-cgi)');
  const docroot = mkdtempSync(join(tmpdir(), 'ff-phpcgi-'));
  writeFileSync(join(docroot, 'hello.php'), '<?php header("X-Cgi: 1"); echo "hello ", $_GET["who"] ?? "", "\\n";\n');
  const port = await freePort();
  const child = spawn(phpCgi, ['-n', '-b', `127.0.0.1:${port}`], { stdio: 'ignore', env: { PHP_FCGI_CHILDREN: '0', PHP_FCGI_MAX_REQUESTS: '1000' } });
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${port}`], log: pino({ level: 'silent' }) });
  try {
    await waitForPort(port, child);
    for (const who of ['a', 'b']) {
      const res = await client.request({
        params: { SCRIPT_FILENAME: join(docroot, 'hello.php'), REQUEST_METHOD: 'GET', QUERY_STRING: `who=${who}`, SERVER_PROTOCOL: 'HTTP/1.1', GATEWAY_INTERFACE: 'CGI/1.1', REDIRECT_STATUS: '200' },
        body: null,
      });
      const text = (await readAll(res.stdout)).toString();
      assert.match(text, /X-Cgi: 1\r\n/);
      assert.match(text, new RegExp(`\\r\\n\\r\\nhello ${who}\\n$`));
      assert.equal((await res.ended).protocolStatus, 0);
    }
  } finally {
    await client.close();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    rmSync(docroot, { recursive: true, force: true });
  }
});
