// Fuzzes both FastCGI sides: random records into `forkfast pool`, and a hostile upstream for the front.
import net from 'node:net';
import { fcgiRequest } from '../pool/fcgi-client.js';
import { counterParams, startPool } from '../pool/harness.js';
import { descendants, sampleRss } from '../helpers/proc-table.js';
import { hostileRecord, Rng } from './fuzz-records.js';
import { startWorld } from './world.js';
import type { Figures } from './figures.js';

/** Sends `records` hostile records to the pool in `lanes` parallel connections of `perConn` records each. */
export async function fuzzResponder(records: number, seed: number, lanes = 8, perConn = 200): Promise<Figures> {
  const pool = await startPool({ workers: 2 });
  const failures: string[] = [];
  const workersBefore = descendants(pool.pid).filter((e) => e.comm === 'node').map((e) => e.pid).sort();
  const rss = sampleRss(() => [pool.pid, ...descendants(pool.pid).map((e) => e.pid)], 200);
  const rng = new Rng(seed);
  let sent = 0;
  let connections = 0;
  const address = pool.address as { path: string };
  const lane = async (): Promise<void> => {
    while (sent < records) {
      const batch: Buffer[] = [];
      for (let i = 0; i < perConn && sent < records; i++, sent++) batch.push(hostileRecord(rng));
      connections++;
      await new Promise<void>((resolve) => {
        const s = net.connect(address.path);
        const timer = setTimeout(() => s.destroy(), 2000);
        s.on('connect', () => s.end(Buffer.concat(batch)));
        s.on('data', () => undefined);
        s.on('error', () => undefined);
        s.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: lanes }, lane));
    const peak = rss.stop();
    const workersAfter = descendants(pool.pid).filter((e) => e.comm === 'node').map((e) => e.pid).sort();
    if (pool.proc.exitCode !== null) failures.push('the pool master exited');
    if (JSON.stringify(workersAfter) !== JSON.stringify(workersBefore)) failures.push(`workers changed: ${workersBefore.join(',')} -> ${workersAfter.join(',')}`);
    const r = await fcgiRequest(address, counterParams(pool.cgiBin), { timeoutMs: 10_000 }).catch((err: Error) => ({ status: -1, body: err.message }));
    if (r.status !== 200) failures.push(`a valid request afterwards got ${r.status}: ${r.body}`);
    return {
      suite: 'FastCGI responder fuzz',
      tried: `${sent} hostile records (seed ${seed}) over ${connections} connections to forkfast pool (2 workers)`,
      figures: { records: sent, connections, workersRestarted: workersAfter.filter((p) => !workersBefore.includes(p)).length, peakRssMiB: +(peak.peakKb / 1024).toFixed(1), rssSamples: peak.samples },
      failures,
    };
  } finally {
    rss.stop();
    await pool.close();
  }
}

/**
 * A hostile upstream: every connection the front opens gets a burst of random records (a stray
 * STDOUT, an END_REQUEST for another id, a lying length...) and is then closed. The front must
 * answer each request with some status and go on serving.
 */
export async function fuzzClient(records: number, seed: number, perConn = 50, concurrency = 8): Promise<Figures> {
  const rng = new Rng(seed);
  let sent = 0;
  const upstream = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => {
      const batch: Buffer[] = [];
      for (let i = 0; i < perConn; i++, sent++) batch.push(hostileRecord(rng, true));
      s.end(Buffer.concat(batch));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as net.AddressInfo).port;
  const w = await startWorld(['--upstream', `127.0.0.1:${port}`]);
  const failures: string[] = [];
  const statuses: Record<string, number> = {};
  const rss = sampleRss(() => [w.server.proc.pid as number], 200);
  let requests = 0;
  try {
    const lane = async (): Promise<void> => {
      // Bounded even if the upstream is never reached (a 404 would never consume records).
      while (sent < records && requests < records) {
        requests++;
        const ctrl = AbortSignal.timeout(15_000);
        const status = await fetch(`${w.server.url}/fcgi-bin/hello.sh`, { signal: ctrl }).then(
          async (r) => {
            await r.arrayBuffer().catch(() => undefined);
            return String(r.status);
          },
          (err: Error) => (err.name === 'TimeoutError' ? 'timeout' : 'cut'),
        );
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    const peak = rss.stop();
    if (w.server.proc.exitCode !== null) failures.push('the front exited');
    if (sent < records) failures.push(`only ${sent} records reached the front`);
    if ((statuses['timeout'] ?? 0) > 0) failures.push(`${statuses['timeout']} requests got no answer within 15 s`);
    const ok = await fetch(`${w.server.url}/index.html`).then((r) => r.status, () => -1);
    if (ok !== 200) failures.push(`static after the fuzz got ${ok}`);
    return {
      suite: 'FastCGI client fuzz (hostile upstream)',
      tried: `${sent} hostile records (seed ${seed}) answered to ${requests} requests through /fcgi-bin/ with --upstream`,
      figures: { records: sent, requests, statuses: JSON.stringify(statuses), frontPeakRssMiB: +(peak.peakKb / 1024).toFixed(1) },
      failures,
    };
  } finally {
    rss.stop();
    await w.stop();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
}
