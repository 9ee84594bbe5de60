// Pure numbers for the bench: percentiles of recorded latencies, req/s, resident/fork ratios.
import type { LatencySummary, PhaseResult, ScriptRatio } from './types.js';

/** The percentiles drawn in the latency distribution chart. */
export const DISTRIBUTION_POINTS: readonly number[] = [1, 10, 25, 50, 75, 90, 95, 99, 99.9];

/**
 * The p-th percentile (0..100) of an ascending sorted sample, nearest-rank method: the smallest
 * value with at least p % of the sample at or below it. NaN for an empty sample.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (p <= 0) return sorted[0] as number;
  if (p >= 100) return sorted[n - 1] as number;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n, Math.max(1, rank)) - 1] as number;
}

/** Sorts (in place) and summarises latencies in ms. An empty sample gives NaN everywhere. */
export function summarizeLatencies(samples: Float64Array): LatencySummary {
  samples.sort();
  let sum = 0;
  for (const v of samples) sum += v;
  return {
    mean: samples.length > 0 ? sum / samples.length : NaN,
    p50: percentile(samples, 50),
    p90: percentile(samples, 90),
    p99: percentile(samples, 99),
    max: percentile(samples, 100),
    distribution: DISTRIBUTION_POINTS.map((p) => [p, percentile(samples, p)] as [number, number]),
  };
}

/** 2xx responses per second over the measured duration. */
export function okPerSecond(ok: number, durationS: number): number {
  return durationS > 0 ? ok / durationS : 0;
}

/** For each script, fastcgi req/s over cgi req/s (the "resident/fork ratio"). */
export function residentForkRatios(phases: readonly PhaseResult[]): ScriptRatio[] {
  const scripts = [...new Set(phases.filter((p) => p.script !== null).map((p) => p.script as string))];
  return scripts.map((script) => {
    const fork = phases.find((p) => p.script === script && p.mode === 'cgi');
    const resident = phases.find((p) => p.script === script && p.mode === 'fastcgi');
    const ratio = fork && resident && fork.reqPerSec > 0 ? resident.reqPerSec / fork.reqPerSec : null;
    return { script, residentPerFork: ratio };
  });
}

/** A number with a sensible count of digits for a table cell ('-' when unknown). */
export function fmt(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 100) return n.toFixed(0);
  return n.toFixed(digits);
}

/** Milliseconds: two decimals under 10 ms, one under 100, none above. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return Math.round(ms).toLocaleString('en-US');
}

export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return '-';
  const mib = b / (1024 * 1024);
  return mib >= 100 ? `${mib.toFixed(0)} MiB` : `${mib.toFixed(1)} MiB`;
}
