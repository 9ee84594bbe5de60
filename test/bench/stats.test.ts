// Tests of the bench's pure numbers: percentiles, latency summaries, ratios, formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmt, fmtBytes, fmtMs, okPerSecond, percentile, residentForkRatios, summarizeLatencies } from '../../src/bench/stats.js';
import { phase } from './fixtures.js';

test('percentile uses the nearest rank', () => {
  const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(s, 50), 5);
  assert.equal(percentile(s, 90), 9);
  assert.equal(percentile(s, 99), 10);
  assert.equal(percentile(s, 100), 10);
  assert.equal(percentile(s, 0), 1);
  assert.equal(percentile(s, 10), 1);
  assert.equal(percentile(s, 11), 2);
  assert.equal(percentile([7], 99.9), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('summarizeLatencies sorts numerically and fills the distribution', () => {
  const samples = new Float64Array([10, 2, 30, 1, 100, 3, 20, 0.5, 40, 4]);
  const s = summarizeLatencies(samples);
  assert.equal(s.p50, 4);
  assert.equal(s.p90, 40);
  assert.equal(s.max, 100);
  assert.equal(s.mean, 21.05);
  assert.equal(s.samples, 10);
  // Ten samples support no point of the distribution (p50 needs 20): none is drawn.
  assert.deepEqual(s.distribution, []);
  const many = summarizeLatencies(Float64Array.from({ length: 2000 }, (_, i) => 2000 - i));
  assert.deepEqual(many.distribution[0], [1, 20]);
  assert.deepEqual(many.distribution.map(([p]) => p), [1, 10, 25, 50, 75, 90, 95, 99], 'no p99.9 from 2,000 samples');
  const sorted = many.distribution.map(([, v]) => v);
  assert.deepEqual([...sorted].sort((a, b) => a - b), sorted, 'monotonic');
});

test('summarizeLatencies of nothing is NaN, not a crash', () => {
  const s = summarizeLatencies(new Float64Array(0));
  assert.ok(Number.isNaN(s.p50) && Number.isNaN(s.mean));
});

test('okPerSecond and the resident/fork ratio', () => {
  assert.equal(okPerSecond(500, 2), 250);
  assert.equal(okPerSecond(500, 0), 0);
  const ratios = residentForkRatios([phase(null, 'static', 9000, 1), phase('a.sh', 'cgi', 100, 10), phase('a.sh', 'fastcgi', 2500, 1), phase('b.mjs', 'cgi', 0, 1), phase('b.mjs', 'fastcgi', 10, 1)]);
  assert.deepEqual(ratios, [
    { script: 'a.sh', residentPerFork: 25 },
    { script: 'b.mjs', residentPerFork: null },
  ]);
});

test('formatting of table cells', () => {
  assert.equal(fmt(12345.6), '12,346');
  assert.equal(fmt(123.4), '123');
  assert.equal(fmt(12.34), '12.3');
  assert.equal(fmt(null), '-');
  assert.equal(fmt(NaN), '-');
  assert.equal(fmtMs(0.456), '0.46');
  assert.equal(fmtMs(45.66), '45.7');
  assert.equal(fmtMs(1234.4), '1,234');
  assert.equal(fmtBytes(80 * 1024 * 1024), '80.0 MiB');
  assert.equal(fmtBytes(null), '-');
});
