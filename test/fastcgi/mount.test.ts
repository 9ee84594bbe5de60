// The --fastcgi mount: the real HTTP front forwarding to our responder and to php-fpm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createFront, type Front } from '../../src/http/server.js';
import { createFastcgiMount } from '../../src/fastcgi/mount.js';
import type { ResponderRequest } from '../../src/fastcgi/server.js';
import { fetchRaw } from '../cgi/harness.js';
import { listenResponder } from './helpers.js';
import { findTool, startPhpFpm } from './peers.js';

const log = pino({ level: 'silent' });
const LIMITS = { maxHeaderSize: 16 * 1024, maxBodySize: 16 * 1024 * 1024, headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000, shutdownTimeoutMs: 2_000 };

async function startFront(docroot: string, upstream: string, idleTimeoutMs = 10_000): Promise<{ front: Front; port: number }> {
  const mount = createFastcgiMount({
    prefix: '/php/',
    scripts: { kind: 'docroot', dir: docroot },
    client: { upstreams: [upstream], idleTimeoutMs, connectTimeoutMs: 2000 },
    log,
    limits: { maxBodySize: 16 * 1024 * 1024, maxHeaderBytes: 64 * 1024 },
    passAuthorization: false,
    serverSoftware: 'forkfast/test',
  });
  const front = createFront({ mounts: [mount], log, limits: LIMITS });
  const where = await front.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 } as Parameters<Front['listen']>[0]);
  return { front, port: where.port ?? 0 };
}

function makeDocroot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ff-docroot-'));
  writeFileSync(join(dir, 'index.php'), '<?php\nhttp_response_code(201);\nheader("X-Php: yes");\necho "script=", $_SERVER["SCRIPT_NAME"], " info=", $_SERVER["PATH_INFO"] ?? "", " body=", strlen(file_get_contents("php://input")), "\\n";\n');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'index.php'), '<?php echo "sub\\n";\n');
  return dir;
}

async function showEnv(r: ResponderRequest): Promise<void> {
  let n = 0;
  for await (const c of r.stdin) n += (c as Buffer).length;
  if (r.params.get('QUERY_STRING') === 'hang') return; // never answers
  const vars = ['SCRIPT_NAME', 'PATH_INFO', 'SCRIPT_FILENAME', 'QUERY_STRING', 'REQUEST_METHOD', 'CONTENT_LENGTH', 'HTTP_X_TEST'].map((k) => `${k}=${r.params.get(k) ?? ''}`);
  r.stdout.write(`Status: 202 Accepted\r\nContent-Type: text/plain\r\n\r\nbody=${n}\n${vars.join('\n')}\n`);
  r.end();
}

test('--fastcgi mount: SCRIPT_NAME, PATH_INFO, SCRIPT_FILENAME from the docroot; 404 before the upstream; 504 on idle', { timeout: 30_000 }, async () => {
  const docroot = makeDocroot();
  const l = await listenResponder({ onRequest: showEnv });
  const { front, port } = await startFront(docroot, `127.0.0.1:${l.port}`, 500);
  try {
    const r = await fetchRaw(port, '/php/index.php/a%20b/c?x=1', { method: 'POST', body: 'hello', headers: { 'x-test': 'yes', 'content-type': 'text/plain' } });
    assert.equal(r.status, 202);
    assert.match(r.text, /^body=5$/m);
    assert.match(r.text, /^SCRIPT_NAME=\/php\/index.php$/m);
    assert.match(r.text, /^PATH_INFO=\/a b\/c$/m);
    assert.match(r.text, new RegExp(`^SCRIPT_FILENAME=${realpathSync(docroot)}/index.php$`, 'm'));
    assert.match(r.text, /^QUERY_STRING=x=1$/m);
    assert.match(r.text, /^HTTP_X_TEST=yes$/m);
    const sub = await fetchRaw(port, '/php/sub/');
    assert.match(sub.text, /^SCRIPT_NAME=\/php\/sub\/index.php$/m);
    const before = l.responder.stats().requestsTotal;
    assert.equal((await fetchRaw(port, '/php/missing.php')).status, 404);
    assert.equal((await fetchRaw(port, '/php/../etc/passwd')).status, 403);
    assert.equal(l.responder.stats().requestsTotal, before, 'refused requests never reach the upstream');
    // CVE-2019-11043's URL shape: forwarded as data, and the next request still works.
    const evil = await fetchRaw(port, `/php/index.php/PHP_VALUE%0Asession.auto_start=1;;;?${'Q'.repeat(1500)}`);
    assert.equal(evil.status, 202);
    assert.equal((await fetchRaw(port, '/php/index.php')).status, 202);
    const hang = await fetchRaw(port, '/php/index.php?hang');
    assert.equal(hang.status, 504);
  } finally {
    await front.close(2000);
    await l.close();
    rmSync(docroot, { recursive: true, force: true });
  }
});

test('--fastcgi mount: an upstream that refuses connections is a 502', { timeout: 30_000 }, async () => {
  const docroot = makeDocroot();
  const l = await listenResponder({ onRequest: showEnv });
  const deadPort = l.port;
  await l.close();
  const { front, port } = await startFront(docroot, `127.0.0.1:${deadPort}`);
  try {
    const r = await fetchRaw(port, '/php/index.php');
    assert.equal(r.status, 502);
  } finally {
    await front.close(2000);
    rmSync(docroot, { recursive: true, force: true });
  }
});

test('--fastcgi mount in front of php-fpm', { timeout: 30_000 }, async (t) => {
  const fpm = findTool('php-fpm', 'php-fpm8.2', 'php-fpm8.3', 'php-fpm8.1');
  if (fpm === null) return t.skip('php-fpm not installed (Debian: php-fpm)');
  const docroot = makeDocroot();
  const peer = await startPhpFpm(fpm, docroot);
  const { front, port } = await startFront(docroot, `127.0.0.1:${peer.port}`);
  try {
    const r = await fetchRaw(port, '/php/index.php/more', { method: 'POST', body: 'x'.repeat(100_000), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.status, 201);
    assert.equal(r.headers['x-php'], 'yes');
    assert.equal(r.text, 'script=/php/index.php info=/more body=100000\n');
  } finally {
    await front.close(2000);
    await peer.stop();
    rmSync(docroot, { recursive: true, force: true });
  }
});
