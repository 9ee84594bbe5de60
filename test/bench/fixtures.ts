// Shared test data for the bench: a report built from given numbers, and a tag-balance checker.
import type { BenchReport, PhaseResult } from '../../src/bench/types.js';

export function phase(script: string | null, mode: PhaseResult['mode'], reqPerSec: number, p50: number): PhaseResult {
  const dist: Array<[number, number]> = [1, 10, 25, 50, 75, 90, 95, 99, 99.9].map((p) => [p, p50 * (1 + p / 50)]);
  return {
    script,
    mode,
    path: script === null ? '/1k.txt' : `/${mode === 'cgi' ? 'cgi' : 'fcgi'}-bin/${script}`,
    reqPerSec,
    load: {
      durationS: 2,
      responses: reqPerSec * 2,
      ok: reqPerSec * 2,
      non2xx: 0,
      errors: 0,
      timeouts: 0,
      latency: { samples: reqPerSec * 2, mean: p50, p50, p90: p50 * 2, p99: p50 * 3, max: p50 * 4, distribution: dist },
      generatorCpuPercent: mode === 'static' ? 97 : 30,
    },
    usage: { cpuS: 1.5, cpuPercent: 75, peakRssBytes: 80 * 1024 * 1024 },
  };
}

export function sampleReport(): BenchReport {
  const phases = [
    phase(null, 'static', 20000, 0.8),
    phase('hello.sh', 'cgi', 900, 30),
    phase('hello.sh', 'fastcgi', 1000, 28),
    phase('<b>&x.mjs', 'cgi', 40, 700),
    phase('<b>&x.mjs', 'fastcgi', 12000, 2.5),
  ];
  return {
    startedAt: '2025-01-01T00:00:00.000Z',
    target: 'http://127.0.0.1:1234',
    ownServer: true,
    machine: { cpus: 2, cpuModel: 'Test CPU', node: 'v20.0.0', platform: 'linux', release: '6.1' },
    settings: { duration: 2, connections: 8, warmup: 1, workers: 2 },
    phases,
    ratios: [
      { script: 'hello.sh', residentPerFork: 1000 / 900 },
      { script: '<b>&x.mjs', residentPerFork: 300 },
    ],
  };
}

const VOID = new Set(['meta', 'br', 'link', 'img', 'input', 'hr']);

/** Returns null when every tag is closed in order (XML-like), else the first problem. */
export function tagProblem(markup: string): string | null {
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w-]*)([^>]*?)(\/?)>/g;
  for (const m of markup.matchAll(re)) {
    const [, closing, name, , selfClose] = m as unknown as [string, string, string, string, string];
    const tag = name.toLowerCase();
    if (selfClose === '/' || VOID.has(tag)) continue;
    if (closing === '/') {
      const open = stack.pop();
      if (open !== tag) return `</${tag}> closes <${open ?? 'nothing'}> at ${m.index}`;
    } else stack.push(tag);
  }
  return stack.length > 0 ? `unclosed <${stack.join('>, <')}>` : null;
}
