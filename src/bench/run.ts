// `forkfast bench`: the same load on /cgi-bin/<script>, /fcgi-bin/<script> and a static file, then the report.
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, platform, release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { BenchOptions, BenchReport, PhaseMode, PhaseResult } from './types.js';
import { runLoad } from './load.js';
import { Progress } from './progress.js';
import { UsageSampler } from './proc-usage.js';
import { startServer, type OwnServer } from './server-child.js';
import { fmt, fmtMs, okPerSecond, residentForkRatios } from './stats.js';
import { reportText } from './table.js';
import { reportHtml } from './report-html.js';
import { checkOptions, probe } from './preflight.js';

export const DEFAULT_SCRIPTS = ['hello.sh', 'hello.mjs'];

interface Phase {
  script: string | null;
  mode: PhaseMode;
  path: string;
}

/** ./cgi-bin like `serve`, else the examples shipped with the package. */
function defaultCgiBin(): string {
  const local = resolve('cgi-bin');
  return existsSync(local) ? local : fileURLToPath(new URL('../../../cgi-bin', import.meta.url));
}

function scriptPath(mount: '/cgi-bin/' | '/fcgi-bin/', script: string): string {
  return mount + script.split('/').map(encodeURIComponent).join('/');
}

function planPhases(scripts: readonly string[], staticPath: string): Phase[] {
  const phases: Phase[] = [{ script: null, mode: 'static', path: staticPath }];
  for (const s of scripts) {
    phases.push({ script: s, mode: 'cgi', path: scriptPath('/cgi-bin/', s) });
    phases.push({ script: s, mode: 'fastcgi', path: scriptPath('/fcgi-bin/', s) });
  }
  return phases;
}

function fail(message: string, code: number): number {
  process.stderr.write(`forkfast bench: ${message}\n`);
  return code;
}

async function measure(phase: Phase, base: string, o: BenchOptions, server: OwnServer | null, progress: Progress): Promise<PhaseResult> {
  const label = `${phase.path} (${phase.mode === 'static' ? 'static' : phase.mode === 'cgi' ? 'fork' : 'resident'})`;
  progress.begin(label, o.warmup, o.duration);
  // Set from a callback, read after the await: a box keeps TypeScript's narrowing honest.
  const box: { sampler: UsageSampler | null } = { sampler: null };
  try {
    const load = await runLoad(
      { url: base + phase.path, connections: o.connections, duration: o.duration, warmup: o.warmup, timeoutS: 10 },
      {
        onStage(stage) {
          progress.setStage(stage);
          // CPU and RSS count the measured seconds only, like the load figures.
          if (stage === 'measure' && server) box.sampler = new UsageSampler(server.pid);
        },
        onProgress: (s, n) => progress.update(s, n),
      },
    );
    const usage = box.sampler?.stop() ?? null;
    const reqPerSec = okPerSecond(load.ok, load.durationS);
    const bad = load.errors + load.non2xx;
    progress.end(`${fmt(reqPerSec)} req/s, p99 ${fmtMs(load.latency.p99)} ms${bad > 0 ? `, ${load.errors} errors, ${load.non2xx} non-2xx` : ''}`);
    return { script: phase.script, mode: phase.mode, path: phase.path, load, reqPerSec, usage };
  } finally {
    box.sampler?.stop();
  }
}

function machine(): BenchReport['machine'] {
  const c = cpus();
  return { cpus: c.length, cpuModel: c[0]?.model.trim() ?? 'unknown', node: process.version, platform: platform(), release: release() };
}

async function writeOutputs(report: BenchReport, o: BenchOptions): Promise<void> {
  process.stdout.write('\n' + reportText(report));
  if (o.json) {
    await writeFile(o.json, JSON.stringify(report, null, 2) + '\n');
    process.stderr.write(`forkfast bench: JSON written to ${o.json}\n`);
  }
  if (o.out) {
    await writeFile(o.out, reportHtml(report));
    process.stderr.write(`forkfast bench: HTML report written to ${o.out}\n`);
  }
}

/**
 * Runs the bench and returns the exit code: 0 done, 1 runtime failure (server did not start,
 * a phase got no successful response, the load generator failed), 2 bad input (options,
 * unknown script). Our own server is always stopped before this resolves.
 */
export async function runBench(options: BenchOptions, log: Logger): Promise<number> {
  const o: BenchOptions = { ...options, scripts: options.scripts.length > 0 ? options.scripts : DEFAULT_SCRIPTS };
  const usage = checkOptions(o);
  if (usage) return fail(usage, 2);
  const startedAt = new Date().toISOString();
  let server: OwnServer | null = null;
  // Ctrl-C in the middle: leave nothing behind (the 'exit' hook of server-child kills the group).
  const onSignal = (): void => {
    process.stderr.write('\nforkfast bench: interrupted\n');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let base: string;
    let staticPath: string;
    const ownWorkers = o.workers ?? availableParallelism();
    if (o.url) {
      base = o.url.replace(/\/+$/, '');
      staticPath = o.staticPath ?? '/';
    } else {
      const cgiBin = resolve(o.cgiBin ?? defaultCgiBin());
      for (const s of o.scripts) {
        const file = join(cgiBin, s);
        if (!existsSync(file) || !statSync(file).isFile()) return fail(`unknown script "${s}": no such file in ${cgiBin}`, 2);
      }
      try {
        // Always given, so the report names the worker count used (not one FORKFAST_WORKERS changed).
        server = await startServer({ cgiBin, workers: ownWorkers }, log);
      } catch (err) {
        return fail((err as Error).message, 1);
      }
      base = server.baseUrl;
      staticPath = o.staticPath ?? server.staticPath;
    }
    let phases = planPhases(o.scripts, staticPath);
    const found = new Set<string>();
    for (const p of phases) {
      const problem = await probe(base + p.path, p.script);
      // Someone else's server may have no index page: without a chosen static path, go on without a ceiling.
      if (problem?.code === 2 && p.mode === 'static' && o.url && o.staticPath === undefined) {
        process.stderr.write(`forkfast bench: no static ceiling: ${base + p.path} answers 404 (choose a file with staticPath)\n`);
        phases = phases.filter((x) => x !== p);
        continue;
      }
      // Found under /cgi-bin/ but 404 under /fcgi-bin/: the script exists, the pool mount does not.
      if (problem?.code === 2 && p.mode === 'fastcgi' && p.script !== null && found.has(p.script)) {
        return fail(`${base + p.path} answers 404 although /cgi-bin/${p.script} exists: does this server mount /fcgi-bin/?`, 1);
      }
      if (problem) return fail(problem.message, problem.code);
      if (p.script !== null) found.add(p.script);
    }
    const progress = new Progress(process.stderr, o.progress ?? process.stderr.isTTY === true);
    const results: PhaseResult[] = [];
    for (const p of phases) {
      try {
        results.push(await measure(p, base, o, server, progress));
      } catch (err) {
        return fail(`${p.path}: ${(err as Error).message}`, 1);
      }
    }
    const report: BenchReport = {
      startedAt,
      target: base,
      ownServer: server !== null,
      machine: machine(),
      settings: { duration: o.duration, connections: o.connections, warmup: o.warmup, workers: server !== null ? ownWorkers : null },
      phases: results,
      ratios: residentForkRatios(results),
    };
    try {
      await writeOutputs(report, o);
    } catch (err) {
      return fail(`cannot write the report: ${(err as Error).message}`, 1);
    }
    const dead = results.filter((r) => r.load.ok === 0);
    for (const r of dead) {
      fail(`every request to ${r.path} failed (${r.load.errors} errors, ${r.load.non2xx} non-2xx responses)`, 1);
    }
    log.debug({ phases: results.length }, 'bench done');
    return dead.length > 0 ? 1 : 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (server) await server.stop();
  }
}
