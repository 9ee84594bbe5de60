// Short resource runs: 1,000 CGI requests, 200 slowloris connections, 64 MiB through every mount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bulk, cgiChurn, pattern, slowloris } from './resources.js';
import { startWorld } from './world.js';

test('1,000 CGI requests leave no zombie and the descriptor count flat', { timeout: 170_000 }, async (t) => {
  const w = await startWorld();
  t.after(() => w.stop());
  const f = await cgiChurn(w, 1000);
  assert.deepEqual(f.failures, []);
});

test('200 slowloris connections keep the latency of other clients within 4x of the baseline', { timeout: 170_000 }, async (t) => {
  const w = await startWorld();
  t.after(() => w.stop());
  const f = await slowloris(w, 200, 2, 15);
  assert.deepEqual(f.failures, []);
});

test('64 MiB down and up through every mount: checksums match, the front stays under 100 MB', { timeout: 170_000 }, async (t) => {
  const bytes = 64 << 20;
  const { block, digest } = pattern(bytes);
  const w = await startWorld(['--max-body-size', String(bytes + 1)], { block, bytes });
  t.after(() => w.stop());
  const f = await bulk(w, bytes, block, digest);
  assert.deepEqual(f.failures, []);
});
