// Resource invariants under volume: no zombie, flat descriptors, slowloris, bulk bodies with checksums.
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { descendants, fdCount, memory, waitFor, zombiesUnder } from '../helpers/proc-table.js';
import type { World } from './world.js';
import type { Figures } from './figures.js';

async function get(url: string): Promise<number> {
  const r = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  await r.arrayBuffer();
  return r.status;
}

/** `n` forked CGI requests, `concurrency` at a time: zombies sampled throughout, descriptors before/after. */
export async function cgiChurn(w: World, n: number, concurrency = 8): Promise<Figures> {
  const pid = w.server.proc.pid as number;
  const failures: string[] = [];
  // Warm up: the first requests open the log, spawn helper and keep-alive sockets for good.
  for (let i = 0; i < 20; i++) await get(`${w.server.url}/cgi-bin/hello.sh`);
  const fdBefore = fdCount(pid);
  let next = 0;
  let bad = 0;
  let zombieSamples = 0;
  let maxZombies = 0;
  const sampler = setInterval(() => {
    zombieSamples++;
    maxZombies = Math.max(maxZombies, zombiesUnder(pid).length);
  }, 250);
  const lane = async (): Promise<void> => {
    while (next++ < n) if ((await get(`${w.server.url}/cgi-bin/hello.sh`).catch(() => -1)) !== 200) bad++;
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  clearInterval(sampler);
  const zombies = await waitFor(() => zombiesUnder(pid).length, (z) => z === 0, 5000);
  // Idle keep-alive sockets of fetch's pool close by themselves; wait for the count to settle.
  const fdAfter = await waitFor(() => fdCount(pid), (c) => c <= fdBefore + 2, 10_000);
  if (bad > 0) failures.push(`${bad} of ${n} requests not 200`);
  if (zombies > 0) failures.push(`${zombies} zombies after the run`);
  if (fdAfter > fdBefore + 2) failures.push(`descriptors ${fdBefore} -> ${fdAfter}`);
  return {
    suite: 'CGI churn',
    tried: `${n} requests to /cgi-bin/hello.sh, ${concurrency} at a time`,
    figures: { requests: n, notOk: bad, zombiesAfter: zombies, maxZombiesSeen: maxZombies, zombieSamples, fdBefore, fdAfter, childrenLeft: descendants(pid).filter((e) => e.comm !== 'node').length },
    failures,
  };
}

async function latencies(url: string, k: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const t0 = process.hrtime.bigint();
    const status = await get(url);
    if (status !== 200) throw new Error(`probe got ${status}`);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/**
 * `n` connections that send a request head one byte at a time; meanwhile a client measures its
 * latency to a CGI script. Baseline and attack rounds alternate (interleaved) so the machine's
 * other load weighs on both; the figure is the ratio of medians.
 */
export async function slowloris(w: World, n: number, rounds = 3, probes = 20): Promise<Figures> {
  const failures: string[] = [];
  const url = `${w.server.url}/cgi-bin/hello.sh`;
  const base: number[] = [];
  const attacked: number[] = [];
  let opened = 0;
  for (let round = 0; round < rounds; round++) {
    base.push(...(await latencies(url, probes)));
    const sockets: Socket[] = [];
    const drip = 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ';
    await Promise.all(
      Array.from({ length: n }, () => new Promise<void>((resolve) => {
        const s = connect(w.server.port, '127.0.0.1', () => {
          opened++;
          s.write(drip.slice(0, 5));
          resolve();
        });
        s.on('error', () => resolve());
        sockets.push(s);
      })),
    );
    let pos = 5;
    const dripper = setInterval(() => {
      const c = drip[pos++ % drip.length] as string;
      for (const s of sockets) if (!s.destroyed) s.write(c);
    }, 200);
    try {
      attacked.push(...(await latencies(url, probes)));
    } catch (err) {
      failures.push(`a probe failed under slowloris: ${(err as Error).message}`);
    }
    clearInterval(dripper);
    for (const s of sockets) s.destroy();
  }
  const ratio = median(attacked) / median(base);
  // Generous: a shared 2-core machine swings; a front that stalls on slow heads is 10x+ slower.
  if (!(ratio < 4)) failures.push(`median latency ${ratio.toFixed(2)}x the baseline under ${n} slow connections`);
  return {
    suite: 'Slowloris',
    tried: `${n} connections dripping a request head, ${rounds} interleaved rounds of ${probes} probes to /cgi-bin/hello.sh with and without them`,
    figures: { connections: n, opened: opened / rounds, baselineMedianMs: +median(base).toFixed(2), attackedMedianMs: +median(attacked).toFixed(2), ratio: +ratio.toFixed(2) },
    failures,
  };
}

/** A repeatable stream of `bytes`: one random MiB over and over, hashed as it goes. */
function pattern(bytes: number): { block: Buffer; digest: string } {
  const block = randomBytes(1 << 20);
  const h = createHash('sha256');
  for (let left = bytes; left > 0; left -= block.length) h.update(left >= block.length ? block : block.subarray(0, left));
  return { block, digest: h.digest('hex') };
}

/** GET or POST `path`, streaming `bytes` of `block` up when posting; resolves with the body's digest and size. */
function transfer(port: number, path: string, up: { block: Buffer; bytes: number } | null): Promise<{ status: number; digest: string; size: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: up ? 'POST' : 'GET', headers: up ? { 'content-length': String(up.bytes), 'content-type': 'application/octet-stream' } : {}, timeout: 600_000 }, (res) => {
      const h = createHash('sha256');
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        h.update(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, digest: h.digest('hex'), size }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('transfer timed out')));
    if (!up) {
      req.end();
      return;
    }
    let left = up.bytes;
    const pump = (): void => {
      while (left > 0) {
        const part = left >= up.block.length ? up.block : up.block.subarray(0, left);
        left -= part.length;
        if (!req.write(part)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

/** `bytes` down through every mount and up-and-back through both script mounts; checksums and the front's VmHWM. */
export async function bulk(w: World, bytes: number, block: Buffer, digest: string): Promise<Figures> {
  const failures: string[] = [];
  const pid = w.server.proc.pid as number;
  const paths: Array<[string, boolean]> = [['/big.bin', false], ['/cgi-bin/emit.sh', false], ['/fcgi-bin/emit.sh', false], ['/cgi-bin/echo.sh', true], ['/fcgi-bin/echo.sh', true]];
  const seconds: Record<string, number> = {};
  for (const [path, up] of paths) {
    const t0 = Date.now();
    const r = await transfer(w.server.port, path, up ? { block, bytes } : null).catch((err: Error) => ({ status: -1, digest: err.message, size: 0 }));
    seconds[`seconds ${up ? 'up+down' : 'down'} ${path}`] = +((Date.now() - t0) / 1000).toFixed(1);
    // The peak so far after each transfer: which mount raised it.
    seconds[`VmHWM MiB after ${path}`] = +(memory(pid).hwmKb / 1024).toFixed(1);
    if (r.status !== 200 || r.size !== bytes || r.digest !== digest) failures.push(`${path}: status ${r.status}, ${r.size} of ${bytes} bytes, digest ${r.digest === digest ? 'matches' : 'differs'}`);
  }
  const hwmMiB = memory(pid).hwmKb / 1024;
  if (!(hwmMiB < 100)) failures.push(`front peak RSS (VmHWM) ${hwmMiB.toFixed(1)} MiB`);
  return {
    suite: 'Bulk bodies',
    tried: `${bytes / 1048576} MiB down through static, /cgi-bin/ and /fcgi-bin/, and up and back through /cgi-bin/ and /fcgi-bin/ (sha256 each)`,
    figures: { mib: bytes / 1048576, frontPeakRssMiB: +hwmMiB.toFixed(1), ...seconds },
    failures,
  };
}

export { pattern };
