// The shapes of `forkfast bench`: options in, one result per phase, one report out (also the JSON file).

/** Which way a request reached its answer: a fork per request, the resident pool, or a file. */
export type PhaseMode = 'cgi' | 'fastcgi' | 'static';

export interface BenchOptions {
  /** Script names in cgi-bin (default ['hello.sh', 'hello.mjs']). */
  scripts: string[];
  /** Target an already running server (e.g. http://127.0.0.1:8080); otherwise we start our own. */
  url?: string;
  /** Measured seconds per phase. */
  duration: number;
  /** Concurrent keep-alive connections of the load generator. */
  connections: number;
  /** Unmeasured seconds of the same load before each phase (JIT, caches, pool start-up). */
  warmup: number;
  /** Write the self-contained HTML report there. */
  out?: string;
  /** Write the JSON report there. */
  json?: string;
  /** The cgi-bin directory our own server uses (default: ./cgi-bin, else the bundled one). */
  cgiBin?: string;
  /** Workers of our own server's pool (default: the server's default). */
  workers?: number;
  /** Path of the static ceiling; default: a 1 KiB file we put in our own server's public dir. */
  staticPath?: string;
  /** Draw a progress bar (default: stderr is a terminal). */
  progress?: boolean;
}

/** Latency percentiles in milliseconds, for the table and the distribution chart. */
export interface LatencySummary {
  /** How many latencies the percentiles come from. */
  samples: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** [percentile, ms] pairs from p1 to p99.9, for the latency distribution chart. */
  distribution: Array<[number, number]>;
}

/** What the load generator process sends back after one measured run. */
export interface LoadResult {
  durationS: number;
  /** Responses received, whatever their status. */
  responses: number;
  ok: number;
  non2xx: number;
  /** Connection errors and timeouts (no response at all). */
  errors: number;
  timeouts: number;
  latency: LatencySummary;
  /** CPU of the load generator process over the measured run, % of one core: near 100 it was the limit. */
  generatorCpuPercent: number;
}

/** CPU and memory of the server process and all its descendants over the measured part. */
export interface ServerUsage {
  /** CPU seconds (user + system, children included) spent during the phase. */
  cpuS: number;
  /** cpuS as a percentage of one core over the phase's wall time. */
  cpuPercent: number;
  /** Highest sum of resident set sizes seen while sampling. */
  peakRssBytes: number;
}

export interface PhaseResult {
  /** null for the static ceiling. */
  script: string | null;
  mode: PhaseMode;
  path: string;
  load: LoadResult;
  /** 2xx responses per second: failed requests are not throughput. */
  reqPerSec: number;
  /** null when the server is not ours (--url): we cannot see its processes. */
  usage: ServerUsage | null;
}

export interface ScriptRatio {
  script: string;
  /** fastcgi req/s divided by cgi req/s: what the resident design buys. null if cgi had none. */
  residentPerFork: number | null;
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  release: string;
}

export interface BenchReport {
  startedAt: string;
  target: string;
  ownServer: boolean;
  machine: MachineInfo;
  /** workers: the pool size our own server ran with; null when the target is not ours (--url). */
  settings: { duration: number; connections: number; warmup: number; workers: number | null };
  phases: PhaseResult[];
  ratios: ScriptRatio[];
}
