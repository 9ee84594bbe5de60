// Tests of the bench's outputs from given numbers: text table, SVG charts, HTML page, progress bar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTable, reportText } from '../../src/bench/table.js';
import { barChart, esc, logRange, percentileChart } from '../../src/bench/svg.js';
import { reportHtml } from '../../src/bench/report-html.js';
import { barLine, Progress } from '../../src/bench/progress.js';
import { sampleReport, tagProblem } from './fixtures.js';

test('renderTable aligns columns and draws rules', () => {
  const t = renderTable(['name', 'n'], [['a', '1'], null, ['long name', '12345']]);
  const lines = t.trimEnd().split('\n');
  assert.equal(lines.length, 5);
  assert.equal(lines[0], 'name           n');
  assert.equal(lines[1], '---------  -----');
  assert.equal(lines[2], 'a              1');
  assert.equal(lines[3], lines[1]);
  assert.equal(lines[4], 'long name  12345');
});

test('reportText has one row per phase and the ratios', () => {
  const text = reportText(sampleReport());
  assert.match(text, /^forkfast bench: http:\/\/127\.0\.0\.1:1234 \(own server\); 8 connections/);
  assert.match(text, /static \/1k\.txt\s+static\s+20,000\s+40000\s+0\.80/, 'req/s, then the sample count, then p50');
  assert.match(text, /2 pool workers/);
  assert.match(text, /hello\.sh\s+cgi \(fork\)\s+900/);
  assert.match(text, /hello\.sh\s+fcgi \(resident\)\s+1,000/);
  assert.match(text, /resident\/fork ratio for hello\.sh: 1\.1x/);
  assert.match(text, /resident\/fork ratio for <b>&x\.mjs: 300\.0x/);
  assert.match(text, /80\.0 MiB/);
  assert.match(text, /note: the load generator used a full core during \/1k\.txt \(97 %\)/);
  assert.doesNotMatch(text, /during .*hello\.sh/);
});

test('barChart is well-formed SVG with escaped labels and scaled bars', () => {
  const svg = barChart([{ label: 'a<b>', value: 100, color: '#f00' }, { label: 'c', value: 50, color: '#00f' }, { label: 'zero', value: 0, color: '#0f0' }], 'T & U', 'req/s');
  assert.equal(tagProblem(svg), null);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.match(svg, /a&lt;b&gt;/);
  assert.match(svg, /T &amp; U/);
  const widths = [...svg.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.equal(widths.length, 3);
  assert.equal(widths[0], 2 * (widths[1] as number));
  assert.equal(widths[2], 0);
  assert.match(svg, />100 req\/s</);
});

test('percentileChart draws one line per series on a log scale', () => {
  const pts = (k: number): Array<[number, number]> => [[50, k], [90, 2 * k], [99, 5 * k]];
  const svg = percentileChart([{ name: 'fast', color: '#111', points: pts(0.5) }, { name: 'slow "x"', color: '#222', points: pts(100) }], 'Latency');
  assert.equal(tagProblem(svg), null);
  assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
  assert.match(svg, />0\.1 ms</);
  assert.match(svg, />1000 ms</);
  assert.match(svg, />p99</);
  assert.match(svg, /slow &quot;x&quot;/);
  assert.doesNotMatch(svg, /NaN/);
  assert.deepEqual(logRange(0.5, 500), [-1, 3]);
  assert.deepEqual(logRange(10, 10), [1, 2]);
});

test('percentileChart survives series with no data', () => {
  const svg = percentileChart([{ name: 'none', color: '#111', points: [[50, NaN], [99, NaN]] }], 'Empty');
  assert.equal(tagProblem(svg), null);
  assert.doesNotMatch(svg, /NaN/);
});

test('reportHtml is one self-contained, well-formed page', () => {
  const html = reportHtml(sampleReport());
  assert.ok(html.startsWith('<!doctype html>'));
  assert.equal(tagProblem(html.replace('<!doctype html>', '')), null);
  assert.doesNotMatch(html, /<script|<link|src=|href=/, 'no external assets');
  assert.equal((html.match(/<svg /g) ?? []).length, 3, 'throughput + one latency chart per script');
  assert.match(html, /300\.0&times;/);
  assert.match(html, /&lt;b&gt;&amp;x\.mjs/);
  assert.doesNotMatch(html, /<b>&x/, 'run values are escaped');
  assert.equal((html.match(/<tr class="/g) ?? []).length, 5);
  assert.match(html, /the load generator used a full core during \/1k\.txt:/);
  assert.equal(esc(`<'&">`), '&lt;&#39;&amp;&quot;&gt;');
});

test('progress: a bar on a terminal, plain lines otherwise', () => {
  assert.match(barLine('x', 3, 6, 'measure', 1234.4), /\[#{15}\.{15}\]\s+3\.0\/6 s\s+measure\s+1,234 req\/s$/);
  const tty: string[] = [];
  const p = new Progress({ write: (s: string) => tty.push(s) }, true);
  p.begin('phase', 1, 2);
  p.update(0.5, 100);
  p.end('done');
  assert.ok(tty.every((s) => s.startsWith('\r')));
  assert.ok(tty.at(-1)?.endsWith('done\n'));
  const plain: string[] = [];
  const q = new Progress({ write: (s: string) => plain.push(s) }, false);
  q.begin('phase', 1, 2);
  q.update(0.5, 100);
  q.end('done');
  assert.deepEqual(plain, ['bench: phase: 1 s warm-up + 2 s measured\n', 'bench: phase: done\n']);
});
