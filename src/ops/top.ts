// `forkfast top`: a live terminal view of a pool (uwsgitop's job), read from a status page as JSON.
import type { PoolStatus, ProcessStatus } from '../pool/pool-status.js';

export interface TopOptions {
  /** The status page: http://host:port/status (the stats listener) or /-/status (serve). */
  readonly url: string;
  readonly intervalMs: number;
  readonly out: NodeJS.WriteStream;
  readonly input: NodeJS.ReadStream;
}

const ALT_SCREEN_ON = '\x1b[?1049h\x1b[?25l';
const ALT_SCREEN_OFF = '\x1b[?25h\x1b[?1049l';
const HOME_CLEAR = '\x1b[H\x1b[2J';

/** The stats listener's address (host:port) or a URL, as the status page's JSON URL. */
export function statusUrl(target: string): string {
  const url = new URL(/^https?:\/\//.test(target) ? target : `http://${target}/status`);
  url.search = 'json&full';
  return url.toString();
}

function human(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)}G`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(0)}M`;
  return `${(bytes / 1024).toFixed(0)}K`;
}

function cut(s: string, width: number): string {
  return s.length <= width ? s.padEnd(width) : '…' + s.slice(s.length - width + 1);
}

/** One screen: pool totals, CGI children, one row per worker. `rates` holds req/s by pid. */
export function renderTop(s: PoolStatus, rates: ReadonlyMap<number, number>, url: string, width: number): string {
  const total = [...rates.values()].reduce((a, b) => a + b, 0);
  const exits = Object.entries(s['worker exits']).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  const lines = [
    `forkfast top - ${url}   pool ${s.pool}, generation ${s.generation}, up ${s['start since']} s`,
    `requests ${s['accepted conn']} (${total.toFixed(0)} req/s)   workers ${s['total processes']}: ${s['active processes']} active, ${s['idle processes']} idle (max active ${s['max active processes']})`,
    `listen queue ${s['listen queue']}/${s['listen queue len']} (max ${s['max listen queue']})   slow requests ${s['slow requests']}   worker exits: ${exits}`,
    `cgi children ${s.cgi['children running']} running, ${s.cgi['children queued']} queued   max children reached ${s['max children reached']}   refused ${s.cgi.refused}   timed out ${s.cgi['timed out']}`,
    '',
  ];
  const scriptWidth = Math.max(20, width - 70);
  lines.push(`${'PID'.padStart(7)} ${'WORKER'.padStart(6)} ${'STATE'.padEnd(9)} ${'REQS'.padStart(8)} ${'REQ/S'.padStart(7)} ${'INFL'.padStart(4)} ${'RSS'.padStart(6)} ${'AGE'.padStart(8)} ${'SCRIPT / URI'.padEnd(scriptWidth)}`);
  for (const p of s.processes ?? []) lines.push(row(p, rates.get(p.pid) ?? 0, scriptWidth));
  lines.push('', 'q or Ctrl-C quits');
  return lines.map((l) => l.slice(0, width)).join('\n') + '\n';
}

function row(p: ProcessStatus, rate: number, scriptWidth: number): string {
  const running = p.state === 'Running';
  const age = running ? `${(p['request duration'] / 1e6).toFixed(1)}s` : '-';
  const what = running ? `${p.script} ${p['request method']} ${p['request uri']}` : p.state === 'Idle' && p['request uri'] !== '-' ? `(last) ${p['request uri']}` : '';
  return `${String(p.pid).padStart(7)} ${String(p.worker).padStart(6)} ${p.state.padEnd(9)} ${String(p.requests).padStart(8)} ${rate.toFixed(0).padStart(7)} ${String(p['in flight']).padStart(4)} ${human(p.rss).padStart(6)} ${age.padStart(8)} ${cut(what, scriptWidth)}`;
}

/** Runs until q or Ctrl-C; resolves 0. The terminal is restored however it ends. */
export async function runTop(opts: TopOptions): Promise<number> {
  const { out, input } = opts;
  const prev = new Map<number, { requests: number; at: number }>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  out.write(ALT_SCREEN_ON);
  const restore = (): void => {
    out.write(ALT_SCREEN_OFF);
    if (input.isTTY) input.setRawMode(false);
    input.pause();
  };
  process.once('exit', () => stopped || restore());
  const done = new Promise<number>((resolve) => {
    const quit = (): void => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      restore();
      resolve(0);
    };
    if (input.isTTY) input.setRawMode(true);
    input.resume();
    // Raw mode: Ctrl-C arrives as a byte, not as SIGINT.
    input.on('data', (b: Buffer) => {
      if (b.includes(0x71) || b.includes(0x51) || b.includes(0x03)) quit();
    });
    process.once('SIGINT', quit);
    process.once('SIGTERM', quit);
  });

  const tick = async (): Promise<void> => {
    let screen: string;
    try {
      const res = await fetch(opts.url, { signal: AbortSignal.timeout(Math.max(900, opts.intervalMs)) });
      if (res.status === 403) throw new Error('403 Forbidden: this client is not in --status-allow');
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const s = (await res.json()) as PoolStatus;
      const now = performance.now();
      const rates = new Map<number, number>();
      for (const p of s.processes ?? []) {
        const before = prev.get(p.pid);
        if (before && now > before.at) rates.set(p.pid, ((p.requests - before.requests) * 1000) / (now - before.at));
        prev.set(p.pid, { requests: p.requests, at: now });
      }
      screen = renderTop(s, rates, opts.url, out.columns ?? 120);
    } catch (err) {
      const why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      screen = `forkfast top - cannot reach ${opts.url}: ${why}\n(retrying every ${opts.intervalMs / 1000} s; q or Ctrl-C quits)\n`;
    }
    if (stopped) return;
    out.write(HOME_CLEAR + screen);
    timer = setTimeout(() => void tick(), opts.intervalMs);
  };
  void tick();
  return done;
}
