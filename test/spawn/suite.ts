// The spawner's behaviour suite, run once per backend (spawn-node.test.ts, spawn-native.test.ts).
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { createSpawner } from '../../src/spawn/spawner.js';
import { SpawnError, type Spawner, type SpawnerOptions, type SpawnRequest } from '../../src/spawn/types.js';
import { firstLine, isGone, makeFixtures, openFdCount, readAll, waitUntil } from './fixtures.js';

const DEADLINE = { timeout: 30_000 };

export function spawnSuite(backend: 'node' | 'native', skip: string | false): void {
  const fx = makeFixtures();
  process.on('exit', () => fx.remove());
  const ENV = { PATH: '/usr/bin:/bin' };

  const req = (file: string, more: Partial<SpawnRequest> = {}): SpawnRequest => ({
    file: fx.path(file),
    args: [],
    cwd: fx.dir,
    env: ENV,
    stdin: null,
    idleTimeoutMs: 0,
    timeoutMs: 0,
    ...more,
  });

  /** A spawner closed after the test whatever happens: no child outlives its test. */
  const make = (t: TestContext, more: Partial<SpawnerOptions> = {}): Spawner => {
    const s = createSpawner({ maxChildren: 8, queueSize: 16, killGraceMs: 300, stderrLimit: 4096, backend, ...more }, silentLogger());
    t.after(() => s.close());
    assert.equal(s.backend, backend);
    return s;
  };

  const it = (name: string, fn: (t: TestContext) => Promise<void>): void => {
    test(`[${backend}] ${name}`, { ...DEADLINE, skip }, fn);
  };

  it('exit code, signal and reason of a child that exits by itself', async (t) => {
    const s = make(t);
    const child = await s.spawn(req('exit.sh', { env: { ...ENV, CODE: '3' } }));
    assert.ok(child.pid > 0);
    await readAll(child.stdout);
    assert.deepEqual(await child.exited, { code: 3, signal: null, reason: 'exited' });
    assert.deepEqual(s.stats(), { running: 0, queued: 0, spawned: 1, maxChildrenReached: 0, refused: 0, timedOut: 0, killed: 0 });
  });

  it('the environment is exactly the one given (nothing of process.env leaks)', async (t) => {
    const s = make(t);
    process.env['FORKFAST_SHOULD_NOT_LEAK'] = 'secret';
    t.after(() => delete process.env['FORKFAST_SHOULD_NOT_LEAK']);
    const child = await s.spawn({ ...req('exit.sh'), file: '/usr/bin/env', env: { A: '1', QUERY_STRING: 'x=1&y=2', PATH: '/bin' } });
    const out = (await readAll(child.stdout)).toString();
    assert.deepEqual(out.split('\n').filter(Boolean).sort(), ['A=1', 'PATH=/bin', 'QUERY_STRING=x=1&y=2']);
  });

  it('the working directory is the one given', async (t) => {
    const s = make(t);
    const child = await s.spawn({ ...req('exit.sh'), file: '/bin/pwd', cwd: fx.dir });
    assert.equal((await readAll(child.stdout)).toString().trim(), fx.dir);
  });

  it('8 MiB each way at once: a script that writes before reading does not deadlock', async (t) => {
    const s = make(t);
    const body = Buffer.alloc(8 * 1024 * 1024, 0x61);
    const child = await s.spawn(req('big-both.sh', { stdin: Readable.from(chunks(body, 65536)) }));
    const out = await readAll(child.stdout);
    assert.equal(out.length, 16 * 1024 * 1024);
    assert.ok(out.subarray(8 * 1024 * 1024).equals(body));
    assert.equal((await child.exited).code, 0);
  });

  it('a body the script never reads neither hangs nor crashes', async (t) => {
    const s = make(t);
    const body = Readable.from(chunks(Buffer.alloc(8 * 1024 * 1024, 0x62), 65536));
    const child = await s.spawn(req('no-read.sh', { stdin: body }));
    assert.equal((await readAll(child.stdout)).toString(), 'ignored my input\n');
    assert.equal((await child.exited).code, 0);
    await waitUntil(() => body.readableEnded || body.destroyed, 5000);
  });

  for (const grandchild of [true, false]) {
    it(`idle timeout kills the whole process group${grandchild ? ' (grandchild too)' : ''}`, async (t) => {
      const s = make(t);
      const child = await s.spawn(req('hang.sh', { idleTimeoutMs: 300 }));
      const [pid, gpid] = (await firstLine(child.stdout)).split(' ').map(Number) as [number, number];
      assert.equal(pid, child.pid);
      child.stdout.resume();
      const exit = await child.exited;
      assert.equal(exit.reason, 'idle-timeout');
      assert.equal(exit.signal, 'SIGTERM');
      assert.ok(await waitUntil(() => isGone(pid) && isGone(gpid), 5000), 'script and grandchild are gone');
    });
  }

  it('total timeout kills a chatty child and its grandchild', async (t) => {
    const s = make(t);
    const child = await s.spawn(req('tick.sh', { timeoutMs: 400, idleTimeoutMs: 5000 }));
    const [pid, gpid] = (await firstLine(child.stdout)).split(' ').map(Number) as [number, number];
    child.stdout.resume();
    const exit = await child.exited;
    assert.equal(exit.reason, 'timeout');
    assert.ok(await waitUntil(() => isGone(pid) && isGone(gpid), 5000));
  });

  it('SIGKILL after the grace period for a group that ignores SIGTERM', async (t) => {
    const s = make(t, { killGraceMs: 200 });
    const child = await s.spawn(req('stubborn.sh'));
    const [pid, gpid] = (await firstLine(child.stdout)).split(' ').map(Number) as [number, number];
    child.stdout.resume();
    child.kill('killed');
    child.kill('timeout'); // idempotent: the first reason stays
    const exit = await child.exited;
    assert.deepEqual(exit, { code: null, signal: 'SIGKILL', reason: 'killed' });
    assert.ok(await waitUntil(() => isGone(pid) && isGone(gpid), 5000));
  });

  it('an abort signal after start kills the child', async (t) => {
    const s = make(t);
    const ac = new AbortController();
    const child = await s.spawn(req('hang.sh'), ac.signal);
    const [pid, gpid] = (await firstLine(child.stdout)).split(' ').map(Number) as [number, number];
    child.stdout.resume();
    ac.abort();
    assert.equal((await child.exited).reason, 'aborted');
    assert.ok(await waitUntil(() => isGone(pid) && isGone(gpid), 5000));
  });

  it('an abort while exec runs rejects and leaves nothing running', async (t) => {
    const s = make(t);
    const before = openFdCount();
    const ac = new AbortController();
    const p = s.spawn(req('hang.sh'), ac.signal);
    ac.abort(); // the slot was free: the backend is starting the child right now
    await assert.rejects(p, (e: unknown) => e instanceof SpawnError && e.code === 'ABORT_ERR');
    assert.ok(await waitUntil(() => s.stats().running === 0, 5000), 'the child was killed and reaped');
    assert.ok(await waitUntil(() => openFdCount() <= before, 2000), 'its pipes were closed');
  });

  it('concurrency limit, FIFO queue, EQUEUEFULL, and abort while queued', async (t) => {
    const s = make(t, { maxChildren: 1, queueSize: 2 });
    const a = await s.spawn(req('hang.sh'));
    const ac = new AbortController();
    const order: string[] = [];
    const b = s.spawn(req('exit.sh'), ac.signal);
    const c = s.spawn(req('exit.sh')).then((ch) => (order.push('c'), ch));
    assert.deepEqual(s.stats(), { running: 1, queued: 2, spawned: 1, maxChildrenReached: 2, refused: 0, timedOut: 0, killed: 0 });
    await assert.rejects(s.spawn(req('exit.sh')), (e: unknown) => e instanceof SpawnError && e.code === 'EQUEUEFULL');
    ac.abort();
    await assert.rejects(b, (e: unknown) => e instanceof SpawnError && e.code === 'ABORT_ERR');
    assert.deepEqual(s.stats(), { running: 1, queued: 1, spawned: 1, maxChildrenReached: 3, refused: 1, timedOut: 0, killed: 0 });
    a.stdout.resume();
    a.kill('killed');
    await a.exited;
    const cc = await c;
    cc.stdout.resume();
    assert.equal((await cc.exited).code, 0);
    assert.deepEqual(order, ['c']);
    assert.deepEqual(s.stats(), { running: 0, queued: 0, spawned: 2, maxChildrenReached: 3, refused: 1, timedOut: 0, killed: 1 });
  });

  const failures: [string, string, RegExp, Partial<SpawnRequest>?][] = [
    ['missing.sh', 'ENOENT', /no such file/],
    ['no-exec-bit.sh', 'EACCES', /permission denied/],
    ['bad-interp.sh', 'ENOENT', /bad interpreter "\/usr\/bin\/nope-not-here" in #! line/],
    ['crlf.sh', 'ENOENT', /bad interpreter "\/bin\/sh\^M" in #! line.*CRLF/],
    ['no-shebang.sh', 'ENOEXEC', /exec format error/],
    ['garbage.bin', 'ENOEXEC', /exec format error/],
    ['exit.sh', 'ENOENT', /working directory ".*nope" does not exist/, { cwd: '/nonexistent/nope' }],
  ];
  for (const [file, code, message, more] of failures) {
    it(`start failure: ${file} gives ${code} with a reason`, async (t) => {
      const s = make(t);
      await assert.rejects(s.spawn(req(file, more)), (e: unknown) => {
        assert.ok(e instanceof SpawnError);
        assert.equal(e.code, code);
        assert.match(e.message, message);
        return true;
      });
      assert.deepEqual(s.stats(), { running: 0, queued: 0, spawned: 0, maxChildrenReached: 0, refused: 0, timedOut: 0, killed: 0 });
    });
  }

  if (backend === 'native') {
    // libuv retries ENOEXEC with /bin/sh (execvp semantics); posix_spawn does not: execve only.
    it('start failure: a broken ELF file gives ENOEXEC', async (t) => {
      const s = make(t);
      await assert.rejects(s.spawn(req('elf-garbage.bin')), (e: unknown) => e instanceof SpawnError && e.code === 'ENOEXEC' && /exec format error/.test(e.message));
    });
  }

  it('start failure: an environment too large for exec gives E2BIG', async (t) => {
    const s = make(t);
    // Linux caps one argv/env string at 32 pages (MAX_ARG_STRLEN, 128 KiB).
    const env = { ...ENV, HTTP_X_HUGE: 'x'.repeat(200_000) };
    await assert.rejects(s.spawn(req('exit.sh', { env })), (e: unknown) => e instanceof SpawnError && e.code === 'E2BIG');
    assert.deepEqual(s.stats(), { running: 0, queued: 0, spawned: 0, maxChildrenReached: 0, refused: 0, timedOut: 0, killed: 0 });
  });

  it('start failure: a NUL byte in the environment gives EINVAL', async (t) => {
    const s = make(t);
    await assert.rejects(s.spawn(req('exit.sh', { env: { ...ENV, A: 'x\0B=y' } })), (e: unknown) => e instanceof SpawnError && e.code === 'EINVAL');
  });

  it('signals are at their defaults in the child (SIGPIPE is not ignored)', async (t) => {
    const s = make(t);
    const lines: string[] = [];
    const child = await s.spawn(req('sigpipe.sh', { onStderrLine: (l) => lines.push(l) }));
    assert.equal((await readAll(child.stdout)).toString(), 'y\n');
    assert.equal((await child.exited).code, 0);
    assert.deepEqual(lines, []);
  });

  it('no body: stdin reads EOF at once; a body: stdin gets it all', async (t) => {
    const s = make(t);
    const none = await s.spawn(req('read-stdin.sh'));
    assert.equal((await readAll(none.stdout)).toString(), '[]');
    const some = await s.spawn(req('read-stdin.sh', { stdin: Readable.from([Buffer.from('a=1&b=2')]) }));
    assert.equal((await readAll(some.stdout)).toString(), '[a=1&b=2]');
  });

  it('a slow consumer is not an idle child: output waiting in our buffer is not silence', async (t) => {
    const s = make(t);
    const child = await s.spawn(req('big-out.sh', { idleTimeoutMs: 150 }));
    await new Promise((r) => setTimeout(r, 600)); // nobody reads: the child blocks on a full pipe
    assert.equal((await readAll(child.stdout)).length, 1048576);
    assert.deepEqual(await child.exited, { code: 0, signal: null, reason: 'exited' });
  });

  it('stderr arrives line by line, CRLF trimmed, last line without newline', async (t) => {
    const s = make(t);
    const lines: string[] = [];
    const child = await s.spawn(req('stderr.sh', { onStderrLine: (l) => lines.push(l) }));
    assert.equal((await readAll(child.stdout)).toString(), 'out\n');
    await child.exited;
    await waitUntil(() => lines.length >= 3, 2000);
    assert.deepEqual(lines, ['one', 'two', 'three']);
  });

  it('stderr is capped per child and the child still finishes', async (t) => {
    const s = make(t, { stderrLimit: 1000 });
    const lines: string[] = [];
    const child = await s.spawn(req('stderr-flood.sh', { onStderrLine: (l) => lines.push(l) }));
    assert.equal((await readAll(child.stdout)).toString(), 'done\n');
    assert.equal((await child.exited).code, 0);
    assert.equal(lines.length, 2);
    assert.equal(lines[0], 'x'.repeat(1000));
    assert.match(lines[1] ?? '', /stderr truncated after 1000 bytes/);
  });

  it('no file descriptor leak over 200 spawns', async (t) => {
    const s = make(t, { maxChildren: 8, queueSize: 256 });
    let n = 0;
    const run = async (): Promise<void> => {
      // Every other child gets a body, so the stdin pipe is counted too.
      const stdin = n++ % 2 === 0 ? null : Readable.from([Buffer.from('body')]);
      const child = await s.spawn(req('hello.sh', { stdin }));
      await readAll(child.stdout);
      await child.exited;
    };
    await run(); // warm up: lazily opened handles (libuv signal pipe, the addon) are not leaks
    await new Promise((r) => setTimeout(r, 50));
    const before = openFdCount();
    await Promise.all(Array.from({ length: 200 }, run));
    await waitUntil(() => openFdCount() <= before, 2000);
    assert.equal(openFdCount(), before);
    assert.equal(s.stats().spawned, 201);
  });

  it('close() kills every child and rejects queued requests', async (t) => {
    const s = make(t, { maxChildren: 1, queueSize: 4 });
    const a = await s.spawn(req('hang.sh'));
    a.stdout.resume();
    const queued = s.spawn(req('exit.sh'));
    const rejected = assert.rejects(queued, (e: unknown) => e instanceof SpawnError && e.code === 'ECLOSED');
    await s.close();
    assert.equal((await a.exited).reason, 'killed');
    await rejected;
    await assert.rejects(s.spawn(req('exit.sh')), (e: unknown) => e instanceof SpawnError && e.code === 'ECLOSED');
  });
}

function* chunks(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
