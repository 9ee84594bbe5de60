// The lab's race: the bench's load engine through /cgi-bin/ and then /fcgi-bin/, streamed as Server-Sent Events.
import type { ServerResponse } from 'node:http';
import { runLoad } from '../bench/load.js';
import type { SelfAddress } from './lab-send.js';
import { exchange, rawRequest } from './lab-send.js';

/** Bounds of one race: a classroom's laptop must stay usable. */
export const RACE_LIMITS = { maxDurationS: 10, maxConnections: 64 } as const;
const MOUNTS = ['/cgi-bin/', '/fcgi-bin/'] as const;
/** Requests sent one by one after a phase, to see which processes answered (counter.mjs). */
const PROBES = 12;

export interface RaceSpec {
  readonly script: string;
  readonly connections: number;
  readonly durationS: number;
}

function event(res: ServerResponse, name: string, data: unknown): void {
  if (!res.destroyed) res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** `count=N pid=P` lines (counter.mjs) or any body naming a pid: who answered. */
function whoAnswered(body: string): { count: number | null; pid: number | null } {
  const count = /count=(\d+)/.exec(body);
  const pid = /pid=(\d+)/.exec(body);
  return { count: count ? Number(count[1]) : null, pid: pid ? Number(pid[1]) : null };
}

/**
 * Runs the race and writes its events: `phase`, `progress` (every 250 ms: responses so far and the
 * last second's latency percentiles with their sample count), `result` (the bench's numbers),
 * `answers` (who answered PROBES sequential requests), then `done` with the winner.
 */
export async function runRace(res: ServerResponse, at: SelfAddress & { host: string; port: number }, spec: RaceSpec): Promise<void> {
  const host = at.host.includes(':') ? `[${at.host}]` : at.host;
  const results: Record<string, number> = {};
  for (const mount of MOUNTS) {
    const path = mount + spec.script;
    event(res, 'phase', { mount, path, connections: spec.connections, durationS: spec.durationS });
    let last = { t: 0, responses: 0 };
    try {
      const r = await runLoad(
        { url: `http://${host}:${at.port}${path}`, connections: spec.connections, duration: spec.durationS, warmup: 0, timeoutS: 10 },
        {
          onProgress: (elapsedS, responses, latency) => {
            const dt = elapsedS - last.t;
            const rps = dt > 0 ? (responses - last.responses) / dt : 0;
            last = { t: elapsedS, responses };
            event(res, 'progress', { mount, t: elapsedS, responses, rps, latency: latency ?? { n: 0 } });
          },
        },
      );
      const reqPerSec = r.durationS > 0 ? r.ok / r.durationS : 0;
      results[mount] = reqPerSec;
      event(res, 'result', { mount, reqPerSec, ok: r.ok, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, latency: r.latency });
    } catch (err) {
      event(res, 'failed', { mount, message: (err as Error).message });
      results[mount] = 0;
    }
    const answers: { count: number | null; pid: number | null; status: string }[] = [];
    for (let i = 0; i < PROBES && !res.destroyed; i++) {
      try {
        const { answer } = await exchange(at, rawRequest({ method: 'GET', target: path, headers: [], body: '' }, host, null), 5000);
        const text = answer.toString('utf8');
        const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? '?';
        answers.push({ status, ...whoAnswered(text.slice(text.indexOf('\r\n\r\n') + 4)) });
      } catch {
        answers.push({ status: 'error', count: null, pid: null });
      }
    }
    event(res, 'answers', { mount, answers });
  }
  const fork = results['/cgi-bin/'] ?? 0;
  const resident = results['/fcgi-bin/'] ?? 0;
  event(res, 'done', { winner: resident > fork ? '/fcgi-bin/' : fork > resident ? '/cgi-bin/' : null, ratio: fork > 0 ? resident / fork : null });
}
