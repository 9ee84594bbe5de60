// Tests of the load generator process and the /proc sampler against real sockets and real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runLoad } from '../../src/bench/load.js';
import { parseProcStat, sharesParentMemory, treeStats, UsageSampler } from '../../src/bench/proc-usage.js';

async function hasAutocannon(): Promise<boolean> {
  const specifier = 'autocannon';
  return import(specifier).then(() => true, () => false);
}

test('runLoad measures a real server from its own process', { timeout: 30000 }, async (t) => {
  if (!(await hasAutocannon())) return t.skip('autocannon not installed');
  let seen = 0;
  const server = createServer((req, res) => {
    seen++;
    res.statusCode = req.url === '/fail' ? 503 : 200;
    res.end('hello\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const stages: string[] = [];
    let progress = 0;
    const r = await runLoad(
      { url: `${base}/`, connections: 2, duration: 1, warmup: 0.5, timeoutS: 5 },
      { onStage: (s) => stages.push(s), onProgress: () => progress++ },
    );
    assert.deepEqual(stages, ['warmup', 'measure']);
    assert.ok(progress > 0, 'progress reported');
    assert.ok(r.ok > 0 && r.ok === r.responses, `ok ${r.ok} responses ${r.responses}`);
    assert.ok(seen > r.ok, 'warm-up requests are not counted');
    assert.equal(r.non2xx, 0);
    assert.ok(r.latency.p50 > 0 && r.latency.p50 <= r.latency.p99 && r.latency.p99 <= r.latency.max);
    assert.ok(r.generatorCpuPercent > 0 && r.generatorCpuPercent < 200, `generator cpu ${r.generatorCpuPercent}`);
    const bad = await runLoad({ url: `${base}/fail`, connections: 1, duration: 0.5, warmup: 0, timeoutS: 5 });
    assert.equal(bad.ok, 0);
    assert.ok(bad.non2xx > 0);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('runLoad against nothing ends with errors, not a hang', { timeout: 30000 }, async (t) => {
  if (!(await hasAutocannon())) return t.skip('autocannon not installed');
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  const r = await runLoad({ url: `http://127.0.0.1:${port}/`, connections: 1, duration: 0.5, warmup: 0, timeoutS: 2 });
  assert.equal(r.ok, 0);
  assert.ok(r.errors > 0, `errors ${r.errors}`);
});

test('parseProcStat counts fields after the last parenthesis', () => {
  // pid (comm) state ppid ... ; a comm with spaces and a ')' inside.
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  const st = parseProcStat(`123 (a b) c) ${fields.join(' ')}`);
  assert.deepEqual(st, { ppid: 4, ticks: 14 + 15 + 16 + 17, rssPages: 24, vsize: 23, comm: 'a b) c', startTime: 22 });
  assert.equal(parseProcStat('garbage'), null);
});

test('a child between clone(CLONE_VM) and exec is not counted twice; a real child is', async (t) => {
  if (process.platform !== 'linux') return t.skip('needs /proc');
  const line = (pid: number, comm: string, ppid: number, vsize: number, rss: number): string => {
    const f = Array.from({ length: 50 }, () => '0');
    f[4 - 3] = String(ppid);
    f[23 - 3] = String(vsize);
    f[24 - 3] = String(rss);
    return `${pid} (${comm}) ${f.join(' ')}`;
  };
  const tree = new Map([
    [10, parseProcStat(line(10, 'node', 1, 1_000_000, 500))!],
    [11, parseProcStat(line(11, 'node', 10, 1_000_000, 500))!], // mid-vfork: the parent's mm
    [12, parseProcStat(line(12, 'hello.sh', 10, 2_000, 3))!], // exec'd
  ]);
  assert.equal(sharesParentMemory(tree.get(11)!, tree), true);
  assert.equal(sharesParentMemory(tree.get(12)!, tree), false);
  assert.equal(sharesParentMemory(tree.get(10)!, tree), false);
  // A real child of this process has its own memory.
  const child = spawn('sleep', ['2'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 200));
    const real = treeStats(process.pid);
    const st = real.get(child.pid as number);
    assert.ok(st !== undefined, 'the child is in the tree');
    assert.equal(sharesParentMemory(st, real), false);
  } finally {
    child.kill('SIGKILL');
  }
});

test('UsageSampler sees the CPU and memory of a grandchild', { timeout: 20000 }, async (t) => {
  if (process.platform !== 'linux') return t.skip('needs /proc');
  // sh → node busy loop: the node process is a grandchild of the sampled root.
  const busy = `const end = Date.now() + 1200; let x = 0; while (Date.now() < end) x++; const keep = Buffer.alloc(64 << 20, 1); setTimeout(() => keep.length, 3000);`;
  const child = spawn('sh', ['-c', `"${process.execPath}" -e '${busy}'; sleep 0`], { stdio: 'ignore' });
  try {
    const root = child.pid as number;
    const sampler = new UsageSampler(root, 50);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(treeStats(root).size >= 2, 'root and its node grandchild');
    await new Promise((r) => setTimeout(r, 1500));
    const u = sampler.stop();
    assert.ok(u !== null);
    assert.ok(u.cpuS > 0.5, `cpu ${u.cpuS}`);
    assert.ok(u.cpuPercent > 30 && u.cpuPercent < 220, `percent ${u.cpuPercent}`);
    assert.ok(u.peakRssBytes > 64 * 1024 * 1024, `rss ${u.peakRssBytes}`);
  } finally {
    // The whole tree, found before its root goes (then the grandchild's parent is init).
    const pids = [...treeStats(child.pid as number).keys()].reverse();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});
