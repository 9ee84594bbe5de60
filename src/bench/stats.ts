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

/**
 * Whether `n` samples can support the p-th percentile: at least ten samples must lie beyond it
 * (above it, or below it for a low percentile), so p50 needs 20, p90 and p10 100, p99 and p1
 * 1,000, p99.9 10,000. Below that the value is one or two outliers, not a percentile, and the
 * bench and the lab leave it out.
 */
export function enoughSamples(n: number, p: number): boolean {
  return p > 0 && p < 100 && (n * Math.min(p, 100 - p)) / 100 >= 10 - 1e-9;
}

/** Latency percentiles of a window of samples, each only when the sample supports it (ms). */
export interface LiveLatency {
  readonly n: number;
  readonly p50?: number;
  readonly p90?: number;
  readonly p99?: number;
}

/** Sorts a copy of `window` and keeps the percentiles that `enoughSamples` allows. */
export function liveLatency(window: Float64Array): LiveLatency {
  const sorted = Float64Array.from(window).sort();
  const n = sorted.length;
  const out: { n: number; p50?: number; p90?: number; p99?: number } = { n };
  if (enoughSamples(n, 50)) out.p50 = percentile(sorted, 50);
  if (enoughSamples(n, 90)) out.p90 = percentile(sorted, 90);
  if (enoughSamples(n, 99)) out.p99 = percentile(sorted, 99);
  return out;
}

/** Sorts (in place) and summarises latencies in ms. An empty sample gives NaN everywhere. */
export function summarizeLatencies(samples: Float64Array): LatencySummary {
  samples.sort();
  let sum = 0;
  for (const v of samples) sum += v;
  return {
    samples: samples.length,
    mean: samples.length > 0 ? sum / samples.length : NaN,
    p50: percentile(samples, 50),
    p90: percentile(samples, 90),
    p99: percentile(samples, 99),
    max: percentile(samples, 100),
    // Only the points the sample supports (no p99.9 from a few hundred requests).
    distribution: DISTRIBUTION_POINTS.filter((p) => enoughSamples(samples.length, p)).map((p) => [p, percentile(samples, p)] as [number, number]),
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
