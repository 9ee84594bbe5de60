// A large file streams with backpressure: the serving process's peak RSS stays far below its size.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, truncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from './harness.js';

const SIZE = 256 * 1024 * 1024; // sparse: costs no disk, but would cost 256 MiB of memory if buffered
const TAIL = 'END-OF-BIG-FILE\n';
const MiB = 1024 * 1024;

let dir = '';
let child: ChildProcess | undefined;
let port = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ff-static-big-'));
  mkdirSync(join(dir, 'public'));
  const fd = openSync(join(dir, 'public', 'big.bin'), 'w');
  ftruncateSync(fd, SIZE);
  writeSync(fd, TAIL, SIZE - TAIL.length);
  closeSync(fd);
  for (const name of ['shrink.bin', 'shrink-multi.bin']) {
    const fd2 = openSync(join(dir, 'public', name), 'w');
    ftruncateSync(fd2, 64 * MiB);
    closeSync(fd2);
  }
  const script = fileURLToPath(new URL('./fixture-server.js', import.meta.url));
  child = spawn(process.execPath, [script, join(dir, 'public')], { stdio: ['pipe', 'pipe', 'inherit'] });
  port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('fixture server did not start')), 10_000);
    child?.stdout?.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve((JSON.parse(d.toString()) as { port: number }).port);
    });
    child?.once('exit', (code) => reject(new Error(`fixture server exited ${code}`)));
  });
});

after(() => {
  child?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Peak resident set of a process (VmHWM), in bytes, from /proc. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** GETs the file with a slow start (the socket is paused), counts bytes without keeping them. */
function download(target: string, pauseMs: number, duringPause?: () => void, keepAlive = false, range?: string): Promise<{ head: string; bodyBytes: number; first: Buffer; last: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('download timed out'));
    }, 60_000);
    let head = '';
    let headDone = false;
    let bodyBytes = 0;
    let first = Buffer.alloc(0);
    let last = Buffer.alloc(0);
    sock.on('connect', () => {
      sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n${range === undefined ? '' : `Range: ${range}\r\n`}\r\n`);
      // Hold the data back so the server meets a full socket buffer and must wait (backpressure).
      sock.pause();
      setTimeout(() => {
        duringPause?.();
        sock.resume();
      }, pauseMs);
    });
    sock.on('data', (c: Buffer) => {
      if (!headDone) {
        const s = c.toString('latin1');
        const i = s.indexOf('\r\n\r\n');
        if (i < 0) throw new Error('head split across chunks: unexpected on loopback');
        head = s.slice(0, i);
        headDone = true;
        c = c.subarray(i + 4);
      }
      bodyBytes += c.length;
      if (first.length < 512) first = Buffer.concat([first, c]).subarray(0, 512);
      last = Buffer.concat([last, c]).subarray(-512);
    });
    sock.on('error', reject);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ head, bodyBytes, first, last });
    });
  });
}

test('a 256 MiB file streams whole while the server stays far below its size', { timeout: 90_000 }, async (t) => {
  const pid = child?.pid;
  if (pid === undefined || !existsSync(`/proc/${pid}/status`)) {
    t.skip('no /proc: cannot read the peak RSS of the server');
    return;
  }
  const { head, bodyBytes, last } = await download('/big.bin', 500);
  assert.match(head, /^HTTP\/1\.1 200/);
  assert.match(head, new RegExp(`content-length: ${SIZE}`, 'i'));
  assert.equal(bodyBytes, SIZE);
  assert.equal(last.subarray(-TAIL.length).toString(), TAIL);
  const peak = peakRss(pid);
  t.diagnostic(`server peak RSS ${(peak / MiB).toFixed(1)} MiB for a ${SIZE / MiB} MiB file`);
  assert.ok(peak < 160 * MiB, `peak RSS ${(peak / MiB).toFixed(1)} MiB: the file was buffered`);
});

test('a Range at the end of the large file reads only that part', { timeout: 30_000 }, async () => {
  const r = await request(port, 'GET', '/big.bin', { Range: `bytes=-${TAIL.length}` });
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], `bytes ${SIZE - TAIL.length}-${SIZE - 1}/${SIZE}`);
  assert.equal(r.body.toString(), TAIL);
});

test('a client that goes away mid-file does not hurt the server', { timeout: 30_000 }, async () => {
  await new Promise<void>((resolve) => {
    const sock = connect(port, '127.0.0.1', () => sock.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n'));
    sock.once('data', () => {
      sock.destroy();
      resolve();
    });
  });
  const r = await request(port, 'GET', '/big.bin', { Range: 'bytes=0-3' });
  assert.equal(r.status, 206);
  assert.equal(r.body.length, 4);
});

test('a file that shrinks while streaming ends with a closed connection, not a hang', { timeout: 30_000 }, async () => {
  // Keep-alive: without the close, the client would wait forever for the promised bytes.
  const { head, bodyBytes } = await download('/shrink.bin', 300, () => truncateSync(join(dir, 'public', 'shrink.bin'), MiB), true);
  assert.match(head, new RegExp(`content-length: ${64 * MiB}`, 'i'));
  assert.ok(bodyBytes < 64 * MiB, `got ${bodyBytes} bytes`);
});

test('a multi-range 206 over the large file streams its parts, with the exact length, in bounded memory', { timeout: 90_000 }, async (t) => {
  const pid = child?.pid;
  const hundred = 100 * 1000 * 1000;
  const { head, bodyBytes, first, last } = await download('/big.bin', 300, undefined, false, `bytes=0-99,${hundred}-${2 * hundred - 1},-${TAIL.length}`);
  assert.match(head, /^HTTP\/1\.1 206/);
  const boundary = /content-type: multipart\/byteranges; boundary=(\S+)/i.exec(head)?.[1] ?? '';
  assert.notEqual(boundary, '');
  assert.equal(Number(/content-length: (\d+)/i.exec(head)?.[1]), bodyBytes, 'Content-Length equals the bytes received');
  const opening = first.toString('latin1');
  assert.ok(opening.startsWith(`--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-99/${SIZE}\r\n\r\n`), opening.slice(0, 200));
  assert.ok(opening.includes(`\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${hundred}-${2 * hundred - 1}/${SIZE}\r\n\r\n`));
  const closing = `\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${SIZE - TAIL.length}-${SIZE - 1}/${SIZE}\r\n\r\n${TAIL}\r\n--${boundary}--\r\n`;
  assert.ok(last.toString('latin1').endsWith(closing), 'the last part holds the tail of the file, then the close-delimiter');
  if (pid === undefined || !existsSync(`/proc/${pid}/status`)) {
    t.diagnostic('no /proc: peak RSS not checked');
    return;
  }
  const peak = peakRss(pid);
  t.diagnostic(`server peak RSS ${(peak / MiB).toFixed(1)} MiB after a ${hundred / 1e6} MB multipart part`);
  assert.ok(peak < 160 * MiB, `peak RSS ${(peak / MiB).toFixed(1)} MiB: the parts were buffered`);
});

test('a file that shrinks during a multi-range 206 ends with a closed connection, not a hang', { timeout: 30_000 }, async () => {
  const { head, bodyBytes } = await download('/shrink-multi.bin', 300, () => truncateSync(join(dir, 'public', 'shrink-multi.bin'), MiB), true, `bytes=0-9,${32 * MiB}-`);
  assert.match(head, /^HTTP\/1\.1 206/);
  assert.ok(bodyBytes < Number(/content-length: (\d+)/i.exec(head)?.[1]), `got ${bodyBytes} bytes`);
});

test('clients that leave during a multi-range 206 leak no descriptor', { timeout: 30_000 }, async (t) => {
  const pid = child?.pid;
  if (pid === undefined || !existsSync(`/proc/${pid}/fd`)) {
    t.skip('no /proc: cannot count the server descriptors');
    return;
  }
  const fds = (): number => readdirSync(`/proc/${pid}/fd`).length;
  const before = fds();
  for (let i = 0; i < 5; i++) {
    await new Promise<void>((resolve) => {
      const sock = connect(port, '127.0.0.1', () => sock.write('GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9,1000-200000000\r\n\r\n'));
      sock.once('data', () => {
        sock.destroy();
        resolve();
      });
    });
  }
  const r = await request(port, 'GET', '/big.bin', { Range: `bytes=0-3,-${TAIL.length}` });
  assert.equal(r.status, 206);
  // The server sees each close a little later than we do: allow it a moment to tidy up.
  const deadline = Date.now() + 5000;
  while (fds() > before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  // Not equal: a descriptor of the test before (a connection it left) may close meanwhile.
  assert.ok(fds() <= before, `the server holds ${fds()} descriptors, ${before} before the clients came`);
});
