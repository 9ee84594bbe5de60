// Plain-text tables of a bench report for the terminal: one row per script and mode, then the ratios.
import type { BenchReport, PhaseResult } from './types.js';
import { enoughSamples, fmt, fmtBytes, fmtMs } from './stats.js';

/** Right-aligns numbers, left-aligns the first `leftCols` columns; a row of null is a rule. */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[] | null>, leftCols = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r ? (r[i] ?? '').length : 0))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i < leftCols ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(headers), rule, ...rows.map((r) => (r ? line(r) : rule))].join('\n') + '\n';
}

export const PHASE_HEADERS = ['script', 'mode', 'req/s', 'samples', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'CPU s', 'CPU %', 'peak RSS'] as const;

export function phaseLabel(p: PhaseResult): string {
  return p.script ?? `static ${p.path}`;
}

/** The transport in words, as a reader of the issue knows them. */
export function modeLabel(p: PhaseResult): string {
  return p.mode === 'cgi' ? 'cgi (fork)' : p.mode === 'fastcgi' ? 'fcgi (resident)' : 'static';
}

export function phaseRow(p: PhaseResult): string[] {
  const l = p.load.latency;
  return [
    phaseLabel(p),
    modeLabel(p),
    fmt(p.reqPerSec),
    String(l.samples),
    // A percentile is shown only when the sample supports it (stats: enoughSamples).
    enoughSamples(l.samples, 50) ? fmtMs(l.p50) : '-',
    enoughSamples(l.samples, 90) ? fmtMs(l.p90) : '-',
    enoughSamples(l.samples, 99) ? fmtMs(l.p99) : '-',
    fmtMs(l.max),
    String(p.load.errors),
    String(p.load.non2xx),
    p.usage ? p.usage.cpuS.toFixed(2) : '-',
    p.usage ? fmt(p.usage.cpuPercent, 0) : '-',
    fmtBytes(p.usage?.peakRssBytes),
  ];
}

/** A load generator near one full core was the bottleneck: say which rows are floors, not ceilings. */
export function generatorBound(r: BenchReport): PhaseResult[] {
  return r.phases.filter((p) => p.load.generatorCpuPercent >= GENERATOR_BOUND_PERCENT);
}

export const GENERATOR_BOUND_PERCENT = 90;

function generatorNotes(r: BenchReport): string {
  const bound = generatorBound(r);
  if (bound.length === 0) return '';
  const list = bound.map((p) => `${p.path} (${p.load.generatorCpuPercent.toFixed(0)} %)`).join(', ');
  return `\nnote: the load generator used a full core during ${list}: there the server may do more than shown (use npm run bench:peers, wrk, for ceilings)\n`;
}

/** The whole report as text: settings line, the table grouped by script, the ratios. */
export function reportText(r: BenchReport): string {
  const s = r.settings;
  const head =
    `forkfast bench: ${r.target}${r.ownServer ? ' (own server)' : ''}; ${s.connections} connections, ` +
    `${s.duration} s measured after ${s.warmup} s warm-up per phase; ${s.workers === null ? '' : `${s.workers} pool workers; `}${r.machine.cpus} CPUs, node ${r.machine.node}\n\n`;
  const rows: Array<string[] | null> = [];
  let last: string | null | undefined;
  for (const p of r.phases) {
    if (last !== undefined && p.script !== last) rows.push(null);
    rows.push(phaseRow(p));
    last = p.script;
  }
  const ratios = r.ratios
    .map((x) => `resident/fork ratio for ${x.script}: ${x.residentPerFork === null ? '- (no fork throughput)' : `${x.residentPerFork.toFixed(1)}x`}`)
    .join('\n');
  return head + renderTable(PHASE_HEADERS, rows, 2) + (ratios ? `\n${ratios}\n` : '') + generatorNotes(r);
}
