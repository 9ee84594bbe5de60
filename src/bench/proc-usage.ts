// CPU and peak RSS of a process tree from /proc (Linux): the server, its pool workers and forked scripts.
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { ServerUsage } from './types.js';

interface ProcStat {
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks: cutime/cstime hold reaped children. */
  ticks: number;
  rssPages: number;
  /** Virtual memory size in bytes (field 23) and the command name (field 2). */
  vsize: number;
  comm: string;
  /** Start time since boot (field 22): tells a reused pid from the process we saw before. */
  startTime: number;
}

function sysconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8', timeout: 2000 }).trim());
    return Number.isFinite(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

let units: { tick: number; page: number } | undefined;
function sysUnits(): { tick: number; page: number } {
  units ??= { tick: sysconf('CLK_TCK', 100), page: sysconf('PAGESIZE', 4096) };
  return units;
}

/**
 * Parses /proc/<pid>/stat (proc(5)). The command name (field 2) is in parentheses and may hold
 * spaces, so fields are counted from the last ')'; rest[0] is field 3 (state).
 */
export function parseProcStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const rest = text.slice(close + 2).split(' ');
  const field = (n: number): number => Number(rest[n - 3]);
  const ppid = field(4);
  const ticks = field(14) + field(15) + field(16) + field(17);
  const rssPages = field(24);
  const vsize = field(23);
  const startTime = field(22);
  const comm = text.slice(text.indexOf('(') + 1, close);
  if (![ppid, ticks, rssPages, vsize, startTime].every(Number.isFinite)) return null;
  return { ppid, ticks, rssPages, vsize, comm, startTime };
}

function readStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null; // gone between readdir and read: a CGI child that just ended
  }
}

/**
 * A child caught between clone(CLONE_VM) and exec (the native spawner's vfork-style start) still
 * uses its parent's address space, and /proc shows the parent's whole RSS for it: counted, 32
 * children starting at once added hundreds of MiB that were never there. Same name, same size.
 */
export function sharesParentMemory(st: ProcStat, tree: Map<number, ProcStat>): boolean {
  const parent = tree.get(st.ppid);
  return parent !== undefined && parent.comm === st.comm && parent.vsize === st.vsize;
}

/** The stats of root and every live descendant, keyed by pid. */
export function treeStats(root: number): Map<number, ProcStat> {
  const all = new Map<number, ProcStat>();
  let names: string[] = [];
  try {
    names = readdirSync('/proc');
  } catch {
    return all; // not Linux: no figures rather than wrong ones
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const st = readStat(Number(name));
    if (st) all.set(Number(name), st);
  }
  const tree = new Map<number, ProcStat>();
  const rootStat = all.get(root);
  if (!rootStat) return tree;
  tree.set(root, rootStat);
  // Walk down level by level: children of anything already in the tree.
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, st] of all) {
      if (!tree.has(pid) && tree.has(st.ppid)) {
        tree.set(pid, st);
        grew = true;
      }
    }
  }
  return tree;
}

/**
 * Samples a server's process tree during one phase. CPU is counted for processes alive at the
 * end (delta from the start, or all of it for new ones); children that ended were reaped by a
 * parent in the tree, whose cutime/cstime then holds them. Known overcount: a process alive at
 * the start and reaped during the phase brings its whole life into its parent's cutime.
 */
export class UsageSampler {
  private readonly start: Map<number, ProcStat>;
  private readonly startedAt = process.hrtime.bigint();
  private peakRss = 0;
  private readonly timer: NodeJS.Timeout;
  private result: ServerUsage | null | undefined;

  constructor(private readonly root: number, intervalMs = 200) {
    this.start = treeStats(root);
    this.sampleRss(this.start);
    this.timer = setInterval(() => this.sampleRss(treeStats(root)), intervalMs);
    this.timer.unref();
  }

  private sampleRss(tree: Map<number, ProcStat>): void {
    let pages = 0;
    for (const st of tree.values()) if (!sharesParentMemory(st, tree)) pages += st.rssPages;
    this.peakRss = Math.max(this.peakRss, pages * sysUnits().page);
  }

  /** Stops sampling (once; later calls give the same figures); null when the root was not visible (not Linux, or it died). */
  stop(): ServerUsage | null {
    if (this.result !== undefined) return this.result;
    clearInterval(this.timer);
    this.result = this.measure();
    return this.result;
  }

  private measure(): ServerUsage | null {
    const end = treeStats(this.root);
    if (end.size === 0 || this.start.size === 0) return null;
    this.sampleRss(end);
    let ticks = 0;
    for (const [pid, st] of end) {
      const before = this.start.get(pid);
      ticks += st.ticks - (before && before.startTime === st.startTime ? before.ticks : 0);
    }
    const wallS = Number(process.hrtime.bigint() - this.startedAt) / 1e9;
    const cpuS = Math.max(0, ticks) / sysUnits().tick;
    return { cpuS, cpuPercent: wallS > 0 ? (100 * cpuS) / wallS : 0, peakRssBytes: this.peakRss };
  }
}
