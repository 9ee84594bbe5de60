// Hostile script output on both mounts: each answered as the gateway rules say, memory bounded, no process left.
import { rawRequest } from '../helpers/raw-http.js';
import { connect } from 'node:net';
import { descendants, processesWith, sampleRss, waitFor } from '../helpers/proc-table.js';
import type { World } from './world.js';
import type { Figures } from './figures.js';

/** Script, expected status. */
const CASES: ReadonlyArray<readonly [string, number]> = [
  ['flood-stderr.sh', 200],
  ['mega-headers.sh', 502],
  ['endless-headers.sh', 502],
  ['closed-stdout.sh', 502],
  ['bad-status.sh', 502],
  ['huge-status.sh', 502],
  ['nul-header.sh', 502],
  ['nul-name.sh', 502],
  ['no-headers.sh', 502],
  ['silent-exit.sh', 502],
  ['crlf-inject.sh', 502],
];

const MOUNTS = ['/cgi-bin/', '/fcgi-bin/'] as const;

/** Reads `bytes` of an endless body, then hangs up: the script must be stopped. */
function readThenHangUp(port: number, path: string, bytes: number): Promise<number> {
  return new Promise((resolve) => {
    let got = 0;
    const s = connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    const timer = setTimeout(() => s.destroy(), 30_000);
    s.on('data', (c: Buffer) => {
      got += c.length;
      if (got >= bytes) s.destroy();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

/** Runs every case `rounds` times on both mounts, plus `floods` endless bodies cut at `floodBytes`. */
export async function hostileScripts(w: World, rounds: number, floods: number, floodBytes: number): Promise<Figures> {
  const failures: string[] = [];
  const pid = w.server.proc.pid as number;
  const rss = sampleRss(() => [pid], 100);
  let requests = 0;
  let floodRead = 0;
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      MOUNTS.flatMap((m) =>
        CASES.map(async ([script, expected]) => {
          requests++;
          const r = await rawRequest(w.server.port, `GET ${m}${script} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 30_000).catch(() => null);
          if (r === null || r.status !== expected) failures.push(`${m}${script}: ${r?.status ?? 'no answer'}, expected ${expected}`);
        }),
      ),
    );
  }
  for (let i = 0; i < floods; i++) {
    const got = await Promise.all(MOUNTS.map((m) => readThenHangUp(w.server.port, `${m}flood-body.sh`, floodBytes)));
    for (const g of got) floodRead += g;
  }
  const peak = rss.stop();
  // What a script started must be gone: shells, cat, yes, the sleep behind a closed stdout.
  const isScript = (comm: string): boolean => comm !== 'node' && !comm.startsWith('forkfast');
  const left = await waitFor(() => descendants(pid).filter((e) => isScript(e.comm)), (l) => l.length === 0, 10_000);
  if (left.length > 0) failures.push(`processes left under the front: ${left.map((e) => `${e.comm}(${e.pid},${e.state})`).join(' ')}`);
  const sleepers = await waitFor(() => processesWith('31.4159'), (l) => l.length === 0, 10_000);
  if (sleepers.length > 0) failures.push(`closed-stdout sleepers left: ${sleepers.join(',')}`);
  if (w.server.proc.exitCode !== null) failures.push('the front exited');
  return {
    suite: 'Hostile script output',
    tried: `${CASES.length} misbehaving scripts × 2 mounts × ${rounds} rounds (${requests} requests), ${floods * 2} endless bodies read to ${floodBytes / 1048576} MiB and cut`,
    figures: { requests, floodMiB: +(floodRead / 1048576).toFixed(1), frontPeakRssMiB: +(peak.peakKb / 1024).toFixed(1), processesLeft: left.length + sleepers.length },
    failures,
  };
}
