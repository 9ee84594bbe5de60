// Short fuzz runs: 20 k records into forkfast pool, 5 k from a hostile upstream; no crash, still serving.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { killAllPools } from '../pool/harness.js';
import { fuzzClient, fuzzResponder } from './fuzz.js';

after(killAllPools);

test('20,000 hostile FastCGI records leave the pool and its workers serving', { timeout: 120_000 }, async () => {
  const f = await fuzzResponder(20_000, 0x5eed);
  assert.deepEqual(f.failures, []);
  assert.ok(Number(f.figures['peakRssMiB']) < 400, `pool RSS ${f.figures['peakRssMiB']} MiB`);
});

test('5,000 hostile records from an upstream: every request answered, the front serving', { timeout: 120_000 }, async () => {
  const f = await fuzzClient(5_000, 0xbad);
  assert.deepEqual(f.failures, []);
  assert.ok(Number(f.figures['frontPeakRssMiB']) < 150, `front RSS ${f.figures['frontPeakRssMiB']} MiB`);
});
