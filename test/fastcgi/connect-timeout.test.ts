// The FastCGI client's connect timeout against a real peer whose connect() hangs (a full accept queue).
//
// On loopback a connect never hangs by itself: it succeeds or is refused at once. The peer
// (test/fixtures/hang-peer.py) listens with a backlog of 0 and fills its own accept queue without
// ever calling accept(); Linux then drops every further SYN (ListenOverflows), so our connect()
// stays in SYN_SENT until connectTimeoutMs fires. No mocks: the client's real sockets and timers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createFastcgiClient, type FastcgiClient } from '../../src/fastcgi/client.js';
import { isFastcgiError } from '../../src/fastcgi/errors.js';
import { createFastcgiMount } from '../../src/fastcgi/mount.js';
import { createFront, type Front } from '../../src/http/server.js';
import { fetchRaw } from '../cgi/harness.js';
import { listenResponder } from './helpers.js';

const log = pino({ level: 'silent' });
const HANG_PEER = fileURLToPath(new URL('../../../test/fixtures/hang-peer.py', import.meta.url));
const CONNECT_TIMEOUT_MS = 300;
/** Timers never fire early, but Date/perf clocks may disagree by a millisecond or so. */
const AT_LEAST_MS = CONNECT_TIMEOUT_MS - 10;
/** Far above the timeout: only a hang (or a timer that never fires) crosses it. */
const AT_MOST_MS = 3000;

/** Why the hanging peer cannot be built here, or null when it can. */
function skipReason(): string | null {
  if (process.platform !== 'linux') return 'needs Linux accept-queue overflow semantics';
  if (spawnSync('python3', ['-c', 'pass'], { stdio: 'ignore', timeout: 10_000 }).status !== 0) return 'python3 not installed';
  try {
    // With 1 the kernel may answer a queue overflow with RST; the default 0 drops silently.
    if (readFileSync('/proc/sys/net/ipv4/tcp_abort_on_overflow', 'utf8').trim() !== '0') return 'net.ipv4.tcp_abort_on_overflow is not 0';
  } catch {
    return 'cannot read net.ipv4.tcp_abort_on_overflow';
  }
  return null;
}

interface HangPeer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts hang-peer.py; it prints {"port", "filled"} once its own connect stayed pending. */
async function startHangPeer(mode: 'full' | 'silent'): Promise<HangPeer> {
  const child = spawn('python3', [HANG_PEER, mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    child.stdin.end(); // the peer leaves when its stdin closes...
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); // ...or now
    await exited;
  };
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hang-peer not ready after 10 s: ${err}`)), 10_000);
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(out.slice(0, nl));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`hang-peer exited with ${code}: ${err}`));
      });
    });
    const ready = JSON.parse(line) as { port: number; filled: number };
    if (mode === 'full') assert.ok(ready.filled >= 1, 'the peer filled its accept queue');
    return { port: ready.port, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Our sockets to 127.0.0.1:port still in SYN_SENT (state 02 of /proc/net/tcp): the proof that a
 * connect hangs, and that a timed-out one was closed. null where /proc/net/tcp is unreadable.
 */
function synSent(port: number): number | null {
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return null;
  }
  const remote = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return table.split('\n').filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[2] === remote && f[3] === '02';
  }).length;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The request's outcome and how long it took, for requests that must fail. */
async function failing(client: FastcgiClient): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    await client.request({ params: { SCRIPT_NAME: '/x' }, body: null });
  } catch (err) {
    return { err, ms: performance.now() - t0 };
  }
  assert.fail('the request to the hanging upstream resolved');
}

function assertConnectTimeout(err: unknown): void {
  assert.ok(isFastcgiError(err), `not a FastcgiError: ${String(err)}`);
  assert.equal(err.code, 'FCGI_CONNECT_TIMEOUT');
  // nginx answers 504 on fastcgi_connect_timeout too (ngx_http_upstream: NGX_HTTP_UPSTREAM_FT_TIMEOUT).
  assert.equal(err.errorCode, 'FF_UPSTREAM_TIMEOUT');
}

test('connect timeout: a connect that hangs rejects with FCGI_CONNECT_TIMEOUT (504) after connectTimeoutMs and leaves no socket', { timeout: 20_000 }, async (t) => {
  const why = skipReason();
  if (why !== null) return void t.skip(why);
  const peer = await startHangPeer('full');
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${peer.port}`], log, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  try {
    const pending = failing(client);
    await sleep(100);
    // The approach works on this machine: the client's connect is in SYN_SENT, not refused or done.
    const during = synSent(peer.port);
    if (during !== null) assert.equal(during, 1, 'one connect hanging in SYN_SENT');
    assert.equal(client.stats().upstreams[0]?.connections, 1);
    const { err, ms } = await pending;
    assertConnectTimeout(err);
    assert.ok(ms >= AT_LEAST_MS, `rejected after ${ms.toFixed(0)} ms, before the ${CONNECT_TIMEOUT_MS} ms timeout`);
    assert.ok(ms < AT_MOST_MS, `rejected only after ${ms.toFixed(0)} ms`);
    // The timed-out socket was destroyed, not left retransmitting SYNs.
    const after = synSent(peer.port);
    if (after !== null) assert.equal(after, 0, 'no socket left in SYN_SENT');
    const s = client.stats();
    assert.equal(s.upstreams[0]?.connections, 0);
    assert.equal(s.inFlight, 0);
    assert.equal(s.queued, 0);
  } finally {
    await client.close();
    await peer.stop();
  }
});

test('connect timeout: the upstream is marked down for downForMs, requests meanwhile fail fast without connecting, then it is tried again', { timeout: 20_000 }, async (t) => {
  const why = skipReason();
  if (why !== null) return void t.skip(why);
  const peer = await startHangPeer('full');
  const downForMs = 800;
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${peer.port}`], log, connectTimeoutMs: CONNECT_TIMEOUT_MS, downForMs });
  try {
    const first = await failing(client);
    assertConnectTimeout(first.err);
    assert.ok(first.ms >= AT_LEAST_MS, `first rejected after ${first.ms.toFixed(0)} ms`);
    const downSince = performance.now();
    assert.equal(client.stats().upstreams[0]?.down, true);
    // While down: the same 504 cause, no new connection, no wait for another timeout.
    const second = await failing(client);
    assertConnectTimeout(second.err);
    assert.ok(second.ms < AT_LEAST_MS, `a request to a down upstream waited ${second.ms.toFixed(0)} ms`);
    assert.equal(client.stats().upstreams[0]?.connections, 0, 'no connect attempted while down');
    const syn = synSent(peer.port);
    if (syn !== null) assert.equal(syn, 0);
    // After the pause the upstream is tried again: a real connect, so a real timeout again.
    await sleep(Math.max(0, downForMs + 50 - (performance.now() - downSince)));
    assert.equal(client.stats().upstreams[0]?.down, false);
    const third = await failing(client);
    assertConnectTimeout(third.err);
    assert.ok(third.ms >= AT_LEAST_MS, `after the pause the request failed after ${third.ms.toFixed(0)} ms, without connecting`);
    assert.ok(third.ms < AT_MOST_MS);
    assert.equal(client.stats().upstreams[0]?.down, true);
  } finally {
    await client.close();
    await peer.stop();
  }
});

test('connect timeout with two upstreams: the hanging one is marked down and the request is served by the other', { timeout: 20_000 }, async (t) => {
  const why = skipReason();
  if (why !== null) return void t.skip(why);
  const peer = await startHangPeer('full');
  const live = await listenResponder({
    onRequest(r) {
      r.stdout.write('Content-Type: text/plain\r\n\r\nlive\n');
      r.end();
    },
  });
  // The hanging upstream first: with no load, the client picks the first of equals.
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${peer.port}`, `127.0.0.1:${live.port}`], log, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  try {
    const t0 = performance.now();
    const res = await client.request({ params: { SCRIPT_NAME: '/x' }, body: null });
    const chunks: Buffer[] = [];
    for await (const c of res.stdout) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'Content-Type: text/plain\r\n\r\nlive\n');
    assert.equal(res.upstream, `127.0.0.1:${live.port}`);
    assert.ok(performance.now() - t0 < AT_MOST_MS);
    const [hanging, serving] = client.stats().upstreams;
    assert.equal(hanging?.down, true);
    assert.equal(hanging?.connections, 0);
    assert.equal(serving?.down, false);
    // Later requests skip the down upstream entirely.
    const again = await client.request({ params: { SCRIPT_NAME: '/x' }, body: null });
    assert.equal(again.upstream, `127.0.0.1:${live.port}`);
    await again.ended;
  } finally {
    await client.close();
    await live.close();
    await peer.stop();
  }
});

test('HTTP front: a --fastcgi mount whose upstream connect hangs answers 504 Gateway Timeout, then 504 at once while it is down', { timeout: 20_000 }, async (t) => {
  const why = skipReason();
  if (why !== null) return void t.skip(why);
  const peer = await startHangPeer('full');
  const docroot = mkdtempSync(join(tmpdir(), 'ff-connect-timeout-'));
  writeFileSync(join(docroot, 'index.php'), '<?php echo "never reached";\n');
  let front: Front | null = null;
  try {
    // `forkfast serve --fastcgi` has no connect-timeout option (src/mounts.ts passes only the
    // upstream: the client's 5000 ms default); the mount takes the client options directly.
    const mount = createFastcgiMount({
      prefix: '/x/',
      scripts: { kind: 'docroot', dir: docroot },
      client: { upstreams: [`127.0.0.1:${peer.port}`], connectTimeoutMs: CONNECT_TIMEOUT_MS },
      log,
      limits: { maxBodySize: 1024 * 1024, maxHeaderBytes: 64 * 1024 },
      passAuthorization: false,
      serverSoftware: 'forkfast/test',
    });
    const limits = { maxHeaderSize: 16 * 1024, maxBodySize: 1024 * 1024, headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000, shutdownTimeoutMs: 2_000 };
    front = createFront({ mounts: [mount], log, limits });
    const where = await front.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 } as Parameters<Front['listen']>[0]);
    const port = where.port ?? 0;
    const t0 = performance.now();
    const r = await fetchRaw(port, '/x/index.php', { timeoutMs: 10_000 });
    const ms = performance.now() - t0;
    assert.equal(r.status, 504);
    assert.match(r.text, /^504 Gateway Timeout/);
    assert.ok(ms >= AT_LEAST_MS, `504 after ${ms.toFixed(0)} ms, before the connect timeout`);
    assert.ok(ms < AT_MOST_MS, `504 only after ${ms.toFixed(0)} ms`);
    const t1 = performance.now();
    const again = await fetchRaw(port, '/x/index.php', { timeoutMs: 10_000 });
    assert.equal(again.status, 504);
    assert.ok(performance.now() - t1 < AT_LEAST_MS, 'the down upstream is not connected to again');
  } finally {
    if (front !== null) await front.close(2000);
    await peer.stop();
    rmSync(docroot, { recursive: true, force: true });
  }
});

// Found while writing the tests above, and fixed: the GET_VALUES probe (§4.1) had no timer once
// connected. An upstream whose kernel completes the handshake but that never reads (php-fpm with
// every child busy and connections waiting in its listen backlog) kept the probe open forever,
// and every queued request waited behind it. Now an unanswered probe counts as "does not
// multiplex" after connectTimeoutMs, and the request fails by the idle timeout.
test('an upstream that accepts the connection but never answers GET_VALUES fails the request in bounded time', { timeout: 20_000 }, async (t) => {
  const why = skipReason();
  if (why !== null) return void t.skip(why);
  const peer = await startHangPeer('silent');
  const client = createFastcgiClient({ upstreams: [`127.0.0.1:${peer.port}`], log, connectTimeoutMs: CONNECT_TIMEOUT_MS, idleTimeoutMs: CONNECT_TIMEOUT_MS });
  try {
    const outcome = await Promise.race([
      client.request({ params: { SCRIPT_NAME: '/x' }, body: null }).then(() => 'resolved', (e: unknown) => (isFastcgiError(e) ? e.code : String(e))),
      sleep(2000).then(() => 'still pending after 2000 ms'),
    ]);
    assert.ok(outcome === 'FCGI_IDLE_TIMEOUT' || outcome === 'FCGI_CONNECT_TIMEOUT', outcome);
  } finally {
    await client.close();
    await peer.stop();
  }
});
