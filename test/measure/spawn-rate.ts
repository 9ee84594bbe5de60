// Spawns/s of a `hello.sh` CGI script through each spawn backend at a few concurrencies (issue 3).
// Usage: node dist/test/measure/spawn-rate.js [--ballast=MB] [seconds=3] [concurrency...=1 4 16]
// --ballast holds that many MB of Buffers, as a busy gateway might: fork copies them, vfork not.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSpawner } from '../../src/spawn/spawner.js';
import type { Spawner, SpawnRequest } from '../../src/spawn/types.js';
import { silentLogger } from '../../src/log.js';

const HELLO = '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nhello\\n"\n';

async function drain(child: Awaited<ReturnType<Spawner['spawn']>>): Promise<void> {
  for await (const _ of child.stdout) {
    // read to the end, as the gateway does
  }
  await child.exited;
}

interface Rate {
  /** Children spawned, read to the end and reaped per second. */
  readonly perSecond: number;
  /** CPU time of this (the gateway's) process per child, in µs: the part a backend controls. */
  readonly cpuMicros: number;
  /** CPU time of the reaped children themselves per child, in µs (exec, ld.so, the script). */
  readonly childMicros: number;
}

/** CPU of reaped children (cutime + cstime of /proc/self/stat), in µs; clock ticks are 10 ms. */
function childrenCpuMicros(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of proc(5) are cutime and cstime; we dropped the first two.
  return (Number(fields[13]) + Number(fields[14])) * 10_000;
}

async function rate(spawner: Spawner, request: SpawnRequest, concurrency: number, seconds: number): Promise<Rate> {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      await drain(await spawner.spawn(request));
      done++;
    }
  };
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const children0 = childrenCpuMicros();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(cpu0);
  const childMicros = (childrenCpuMicros() - children0) / Math.max(1, done);
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  return { perSecond: done / elapsed, cpuMicros: (cpu.user + cpu.system) / Math.max(1, done), childMicros };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const ballastArg = argv.find((a) => a.startsWith('--ballast='));
  const ballastMb = ballastArg ? Number(ballastArg.slice('--ballast='.length)) : 0;
  const rest = argv.filter((a) => a !== ballastArg);
  const seconds = Number(rest[0] ?? 3);
  const levels = rest.length > 1 ? rest.slice(1).map(Number) : [1, 4, 16];
  // Touched (filled) so the pages exist: untouched allocations would cost fork nothing.
  const ballast = Array.from({ length: ballastMb }, () => Buffer.alloc(1024 * 1024, 1));
  if (ballastMb > 0) console.log(`holding ${ballast.length} MB of Buffers`);
  const dir = mkdtempSync(join(tmpdir(), 'forkfast-spawn-rate-'));
  const file = join(dir, 'hello.sh');
  writeFileSync(file, HELLO);
  chmodSync(file, 0o755);
  const request: SpawnRequest = { file, args: [], cwd: dir, env: { PATH: '/usr/bin:/bin', GATEWAY_INTERFACE: 'CGI/1.1' }, stdin: null, idleTimeoutMs: 0, timeoutMs: 10_000 };
  const cores = availableParallelism();
  // On a shared, noisy machine spawns/s moves a lot; CPU per spawn does not. The ceiling is what
  // all cores could do if this were the only work: cores / (parent + child CPU per spawn).
  console.log(`backend        concurrency  spawns/s  parent µs/spawn  child µs/spawn  ceiling/s (${cores} cores)`);
  try {
    const variants = [
      { label: 'node', backend: 'node', nativeMode: 'pool' },
      { label: 'native-inline', backend: 'native', nativeMode: 'inline' },
      { label: 'native', backend: 'native', nativeMode: 'pool' },
    ] as const;
    for (const { label, backend, nativeMode } of variants) {
      let spawner: Spawner;
      try {
        spawner = createSpawner({ maxChildren: 64, queueSize: 64, killGraceMs: 1000, stderrLimit: 4096, backend }, silentLogger(), { nativeMode });
      } catch (err) {
        console.log(`${label.padEnd(13)}  skipped: ${(err as Error).message}`);
        continue;
      }
      for (const c of levels) {
        await rate(spawner, request, c, 0.3); // warm up
        const r = await rate(spawner, request, c, seconds);
        const ceiling = (cores * 1e6) / (r.cpuMicros + r.childMicros);
        const cols = [r.perSecond.toFixed(0).padStart(8), r.cpuMicros.toFixed(0).padStart(15), r.childMicros.toFixed(0).padStart(14), ceiling.toFixed(0).padStart(9)];
        console.log(`${label.padEnd(13)}  ${String(c).padStart(11)}  ${cols.join('  ')}`);
      }
      await spawner.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
