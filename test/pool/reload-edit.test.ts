// Edits go live under `forkfast serve`: an edited handler module rolls a new pool generation with
// zero failed requests under load; a module that no longer imports keeps the old generation
// serving, says where it broke (log and /-/status), and its fix goes live; SIGHUP storms end in
// one generation; a config file that became invalid keeps the old values.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { makeFixtureDir, sleep } from './harness.js';
import { get, killAllServes, startServe } from './serve-harness.js';

after(killAllServes);

/** `concurrency` keep-alive loops of GETs until stop(); every status and body is kept. */
function httpLoad(port: number, path: string, concurrency: number): { stop: () => Promise<void>; seen: Array<{ at: number; status: number; body: string }> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const seen: Array<{ at: number; status: number; body: string }> = [];
  let running = true;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: 15_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => {
          seen.push({ at: Date.now(), status: res.statusCode ?? 0, body });
          resolve();
        });
      });
      req.on('error', (err) => {
        seen.push({ at: Date.now(), status: 0, body: err.message });
        resolve();
      });
    });
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) await one();
  });
  return {
    seen,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

test('serve: a module edited under load is served within 2 s, with zero failed requests', { timeout: 90_000 }, async () => {
  const s = await startServe({ workers: 2 });
  const file = join(s.cgiBin, 'version.mjs');
  const load = httpLoad(s.port, '/fcgi-bin/version.mjs', 8);
  try {
    await sleep(1000);
    writeFileSync(file, `export default () => new Response('v2 pid=' + process.pid + '\\n');\n`);
    const editedAt = Date.now();
    const deadline = editedAt + 20_000;
    while (!load.seen.some((r) => r.body.startsWith('v2')) && Date.now() < deadline) await sleep(20);
    const first = load.seen.find((r) => r.body.startsWith('v2'));
    assert.ok(first, `the edit was never served:\n${s.dump()}`);
    await sleep(1000);
    await load.stop();
    const failed = load.seen.filter((r) => r.status !== 200);
    assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${load.seen.length} failed`);
    assert.ok(load.seen.length > 50, `only ${load.seen.length} requests`);
    const timeline = s.lines
      .filter((l) => ['reloading: starting new workers before stopping the old ones', 'worker ready', 'reload complete', 'worker draining'].includes(l.msg))
      .map((l) => `${Number(l['time']) - editedAt} ms ${l.msg}${l['bootMs'] === undefined ? '' : ` (boot ${String(l['bootMs'])} ms)`}`);
    assert.ok(first.at - editedAt < 2000, `served ${first.at - editedAt} ms after the edit:\n${timeline.join('\n')}`);
    // Once the new generation serves, the old code is gone.
    const lastOld = Math.max(...load.seen.filter((r) => r.body.startsWith('v1')).map((r) => r.at));
    const complete = s.lines.find((l) => l.msg === 'reload complete');
    assert.ok(complete, 'reload complete logged');
    assert.ok(lastOld <= Date.now(), String(lastOld));
  } finally {
    await load.stop();
    await s.close();
  }
});

test('serve: a module that no longer imports keeps the old workers serving; its fix goes live', { timeout: 90_000 }, async () => {
  // One worker, which has imported v1 (a worker that had not would import the broken file).
  const s = await startServe({ workers: 1 });
  const file = join(s.cgiBin, 'version.mjs');
  try {
    assert.match((await get(s.port, '/fcgi-bin/version.mjs')).body, /^v1/);
    const from = s.lines.length;
    writeFileSync(file, `export default {\n  fetch() { return new Response('v2' +); },\n};\n`);
    const failed = await s.waitFor((l) => l.msg === 'reload failed: the new workers cannot serve; the old workers keep serving', 30_000, 'reload failed', from);
    assert.equal(failed.file, file);
    assert.equal(failed.line, 2);
    assert.match(String(failed.error), /SyntaxError/);
    // One line says it: no worker logs its own fatal line for it.
    assert.equal(s.lines.slice(from).filter((l) => l.msg === 'worker cannot boot').length, 0);
    for (let i = 0; i < 4; i++) assert.match((await get(s.port, '/fcgi-bin/version.mjs')).body, /^v1/);
    const status = JSON.parse((await get(s.port, '/-/status?json')).body) as { reload: { importFailure: { file: string; line: number } | null } };
    assert.equal(status.reload.importFailure?.file, file, JSON.stringify(status.reload));
    assert.equal(status.reload.importFailure?.line, 2);
    const fixedFrom = s.lines.length;
    writeFileSync(file, `export default () => new Response('v3 pid=' + process.pid + '\\n');\n`);
    const deadline = Date.now() + 30_000;
    let body = '';
    while (!body.startsWith('v3') && Date.now() < deadline) {
      body = (await get(s.port, '/fcgi-bin/version.mjs')).body;
      await sleep(100);
    }
    assert.match(body, /^v3/, s.dump());
    await s.waitFor((l) => l.msg === 'reload complete', 30_000, 'reload complete', fixedFrom);
    const after = JSON.parse((await get(s.port, '/-/status?json')).body) as { reload: { importFailure: unknown } };
    assert.equal(after.reload.importFailure, null);
  } finally {
    await s.close();
  }
});

test('serve --no-reload: a handler module that failed to import is imported again once the file is fixed', { timeout: 60_000 }, async () => {
  const s = await startServe({ workers: 1, args: ['--no-reload'] });
  const file = join(s.cgiBin, 'syntax.mjs');
  try {
    assert.equal(s.lines.some((l) => l.msg === 'watching cgi-bin: an edited handler module rolls a new generation of workers'), false);
    writeFileSync(file, `export default () => new Response('broken' +);\n`);
    assert.equal((await get(s.port, '/fcgi-bin/syntax.mjs')).status, 500);
    const logged = await s.waitFor((l) => l.msg === 'handler module does not import', 10_000, 'import failure logged');
    assert.equal(logged.line, 1);
    assert.equal((await get(s.port, '/fcgi-bin/syntax.mjs')).status, 500);
    await sleep(20); // a different modification time
    writeFileSync(file, `export default () => new Response('fixed\\n');\n`);
    const r = await get(s.port, '/fcgi-bin/syntax.mjs');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'fixed\n');
    // No new generation was started for it.
    assert.equal(s.lines.filter((l) => l.msg === 'reloading: starting new workers before stopping the old ones').length, 0);
  } finally {
    await s.close();
  }
});

test('serve: ten SIGHUPs in a second end in one generation, every request answered', { timeout: 90_000 }, async () => {
  const s = await startServe({ workers: 2 });
  const load = httpLoad(s.port, '/fcgi-bin/counter.mjs', 4);
  try {
    for (let i = 0; i < 10; i++) {
      s.proc.kill('SIGHUP');
      await sleep(100);
    }
    const deadline = Date.now() + 60_000;
    let state = { requested: 0, completed: -1, generation: 0 };
    while (Date.now() < deadline) {
      state = JSON.parse(readFileSync(`${s.pidFile}.state`, 'utf8')) as typeof state;
      if (state.completed === state.requested && s.lines.filter((l) => l.msg === 'reload complete').length > 0) break;
      await sleep(100);
    }
    assert.equal(state.completed, state.requested, s.dump());
    assert.ok(state.requested >= 1 && state.requested <= 10, JSON.stringify(state));
    await sleep(500);
    await load.stop();
    assert.deepEqual(load.seen.filter((r) => r.status !== 200).slice(0, 5), []);
    // Every worker alive now belongs to the last generation, and there are as many as asked.
    const ready = s.lines.filter((l) => l.msg === 'worker ready');
    const live = s.workerPids();
    assert.equal(live.length, 2, s.dump());
    for (const pid of live) assert.equal(ready.find((l) => l.workerPid === pid)?.generation, state.generation);
  } finally {
    await load.stop();
    await s.close();
  }
});

test('serve: SIGHUP re-reads the config file; an invalid file keeps the values in effect', { timeout: 90_000 }, async () => {
  const fixtures = makeFixtureDir();
  const config = join(fixtures.dir, 'forkfast.json');
  writeFileSync(config, JSON.stringify({ workers: 1, maxBodySize: '1m' }));
  const s = await startServe({ args: ['--config', config], workers: null }, fixtures);
  try {
    writeFileSync(config, '{ "workers": 2, ');
    let from = s.lines.length;
    s.proc.kill('SIGHUP');
    const invalid = await s.waitFor((l) => l.msg === 'the configuration is invalid; reloading with the values in effect', 10_000, 'invalid config logged', from);
    assert.match(JSON.stringify(invalid.err), /forkfast\.json/);
    await s.waitFor((l) => l.msg === 'reload complete', 30_000, 'reload complete', from);
    assert.equal(s.workerPids().length, 1);
    assert.equal((await get(s.port, '/fcgi-bin/counter.mjs')).status, 200);
    writeFileSync(config, JSON.stringify({ workers: 2, maxBodySize: '2m' }));
    from = s.lines.length;
    s.proc.kill('SIGHUP');
    const reread = await s.waitFor((l) => l.msg === 'configuration re-read: the new workers take the applied values; the others need a restart', 10_000, 're-read', from);
    assert.deepEqual(reread.applied, ['pool.workers']);
    assert.deepEqual(reread.needRestart, ['limits.maxBodySize']);
    await s.waitFor((l) => l.msg === 'reload complete', 30_000, 'reload complete', from);
    await s.waitFor(() => s.workerPids().length === 2, 10_000, 'two workers');
  } finally {
    await s.close();
  }
});
