// Reads the Linux process table: a process's descendants, zombies, open descriptors and memory.
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcEntry {
  readonly pid: number;
  readonly ppid: number;
  /** The state letter of /proc/PID/stat: R, S, D, Z, T... */
  readonly state: string;
  readonly comm: string;
}

/** Every process visible now, from /proc/PID/stat (comm may hold spaces and parentheses). */
export function processTable(): ProcEntry[] {
  const out: ProcEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // ended while we listed
    }
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    out.push({ pid: Number(name), ppid: Number(fields[1]), state: fields[0] ?? '?', comm: stat.slice(stat.indexOf('(') + 1, close) });
  }
  return out;
}

/** The processes below `pid` (children, grandchildren...), not `pid` itself. */
export function descendants(pid: number, table: ProcEntry[] = processTable()): ProcEntry[] {
  const found: ProcEntry[] = [];
  const parents = [pid];
  while (parents.length > 0) {
    const p = parents.pop() as number;
    for (const e of table) {
      if (e.ppid !== p) continue;
      found.push(e);
      parents.push(e.pid);
    }
  }
  return found;
}

/** Zombies below `pid`: children that ended and were never awaited. */
export function zombiesUnder(pid: number): ProcEntry[] {
  return descendants(pid).filter((e) => e.state === 'Z');
}

/** Processes anywhere whose command line contains `marker` (for programs that left their parent). */
export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'latin1').includes(marker)) out.push(Number(name));
    } catch {
      // ended while we listed
    }
  }
  return out;
}

/** Open descriptors of `pid` (entries of /proc/PID/fd). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export interface Memory {
  /** Resident set now, KiB (VmRSS). */
  readonly rssKb: number;
  /** Peak resident set since start, KiB (VmHWM). */
  readonly hwmKb: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** Samples VmRSS of `pids` every `everyMs` until stopped; returns the peak (KiB) per sample set. */
export function sampleRss(pids: () => number[], everyMs = 100): { stop(): { peakKb: number; samples: number } } {
  let peakKb = 0;
  let samples = 0;
  const take = (): void => {
    let total = 0;
    for (const pid of pids()) {
      try {
        total += memory(pid).rssKb;
      } catch {
        // the process ended between listing and reading
      }
    }
    samples++;
    if (total > peakKb) peakKb = total;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { peakKb, samples };
    },
  };
}

/** Polls `pred` until it holds or `timeoutMs` passes; resolves with its last value. */
export async function waitFor<T>(probe: () => T, pred: (v: T) => boolean, timeoutMs: number, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = probe();
  while (!pred(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, everyMs));
    v = probe();
  }
  return v;
}
