// Range parsing (RFC 9110 §14) and conditional evaluation (§13) as pure functions, table-driven.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePreconditions, ifRangeAllows, makeValidators } from '../../src/static/conditional.js';
import { coalesce, MAX_RANGES, parseRange, type ByteRange, type RangeResult } from '../../src/static/range.js';

const sat = (start: number, end: number): RangeResult => ({ kind: 'satisfiable', start, end });
const UNSAT: RangeResult = { kind: 'unsatisfiable' };
const IGN: RangeResult = { kind: 'ignored' };
const multi = (...pairs: [number, number][]): RangeResult => ({ kind: 'multiple', ranges: pairs.map(([start, end]) => ({ start, end })) });

test('parseRange: every form against a 100-byte representation', () => {
  const cases: [string | undefined, RangeResult][] = [
    [undefined, IGN],
    ['bytes=0-0', sat(0, 0)],
    ['bytes=0-99', sat(0, 99)],
    ['bytes=0-1000', sat(0, 99)],
    ['bytes=50-', sat(50, 99)],
    ['bytes=99-', sat(99, 99)],
    ['bytes=-1', sat(99, 99)],
    ['bytes=-100', sat(0, 99)],
    ['bytes=-500', sat(0, 99)],
    ['Bytes=1-2', sat(1, 2)],
    [' bytes = 1 - 2 ', sat(1, 2)],
    ['bytes=100-', UNSAT],
    ['bytes=100-200', UNSAT],
    ['bytes=-0', UNSAT],
    ['bytes=5-4', IGN],
    ['bytes=-', IGN],
    ['bytes=', IGN],
    ['bytes=a-b', IGN],
    ['bytes=+1-2', IGN],
    ['bytes=1.5-2', IGN],
    ['bytes 0-1', IGN],
    ['items=0-1', IGN],
    ['bytes=9999999999999999999-', IGN],
  ];
  for (const [header, want] of cases) assert.deepEqual(parseRange(header, 100), want, String(header));
});

test('parseRange: range-sets (RFC 9110 §14.1.1, §14.2) against a 100-byte representation', () => {
  const cases: [string, RangeResult][] = [
    ['bytes=0-9,20-29', multi([0, 9], [20, 29])],
    ['bytes=0-1, 5-6 ,-1', multi([0, 1], [5, 6], [99, 99])],
    // Request order is kept for disjoint ranges (§15.3.7.2), even when not ascending.
    ['bytes=50-59,0-9', multi([50, 59], [0, 9])],
    // Unsatisfiable specs are dropped; what is left decides the form.
    ['bytes=0-1, 200-300', sat(0, 1)],
    ['bytes=200-,0-1,5-6,-0', multi([0, 1], [5, 6])],
    ['bytes=100-,200-300,-0', UNSAT],
    // Overlapping and adjacent ranges coalesce; a merged range takes its earliest member's place.
    ['bytes=0-4,5-9', sat(0, 9)],
    ['bytes=0-9,5-14', sat(0, 14)],
    ['bytes=0-,0-,0-', sat(0, 99)],
    ['bytes=0-1,0-1', sat(0, 1)],
    ['bytes=90-99,0-9,5-20,-5', multi([90, 99], [0, 20])],
    ['bytes=0-0,2-2,1-1', sat(0, 2)],
    // Empty list elements are ignored (§5.6.1.2); one invalid spec makes the set invalid.
    ['bytes=0-1,,5-6,', multi([0, 1], [5, 6])],
    ['bytes=,', IGN],
    ['bytes=0-1,5-4', IGN],
    ['bytes=0-1,x', IGN],
    ['bytes=0-1,-', IGN],
  ];
  for (const [header, want] of cases) assert.deepEqual(parseRange(header, 100), want, header);
});

test('parseRange: more than MAX_RANGES range-specs are ignored (200), at the bound they are served', () => {
  const specs = (n: number): string => Array.from({ length: n }, (_, i) => `${i * 2}-${i * 2}`).join(',');
  const at = parseRange(`bytes=${specs(MAX_RANGES)}`, 100);
  assert.equal(at.kind, 'multiple');
  assert.equal(at.kind === 'multiple' && at.ranges.length, MAX_RANGES);
  assert.deepEqual(parseRange(`bytes=${specs(MAX_RANGES + 1)}`, 100), IGN);
  // Empty elements count too, so a header of commas costs nothing to refuse.
  assert.deepEqual(parseRange(`bytes=0-1${','.repeat(MAX_RANGES)}`, 100), IGN);
  assert.deepEqual(parseRange(`bytes=${'0-99,'.repeat(10_000)}0-99`, 100), IGN, 'Apache CVE-2011-3192 shape');
  // Under the bound, overlapping whole-file ranges cost one copy of the file, not N.
  assert.deepEqual(parseRange(`bytes=${Array(MAX_RANGES).fill('0-').join(',')}`, 100), sat(0, 99));
});

test('coalesce: disjoint ranges unchanged, overlapping and touching ones merged', () => {
  const r = (start: number, end: number): ByteRange => ({ start, end });
  assert.deepEqual(coalesce([r(0, 1), r(3, 4)]), [r(0, 1), r(3, 4)]);
  assert.deepEqual(coalesce([r(3, 4), r(0, 1)]), [r(3, 4), r(0, 1)]);
  assert.deepEqual(coalesce([r(0, 1), r(2, 3)]), [r(0, 3)]);
  assert.deepEqual(coalesce([r(10, 20), r(0, 5), r(15, 30), r(4, 9)]), [r(0, 30)]);
  assert.deepEqual(coalesce([r(50, 60), r(0, 1), r(55, 70), r(5, 5)]), [r(50, 70), r(0, 1), r(5, 5)]);
});

test('parseRange: an empty representation ignores Range (200 with no body)', () => {
  for (const h of ['bytes=0-', 'bytes=-1', 'bytes=0-0']) assert.deepEqual(parseRange(h, 0), IGN, h);
});

test('validators: strong ETag from size and mtime, Last-Modified in whole seconds', () => {
  const v = makeValidators(1024, 1_700_000_000_123.456);
  assert.match(v.etag, /^"400-[0-9a-z]+"$/);
  assert.equal(v.mtimeSec, 1_700_000_000);
  assert.equal(v.lastModified, 'Tue, 14 Nov 2023 22:13:20 GMT');
  assert.notEqual(makeValidators(1024, 1_700_000_000_124).etag, v.etag, 'a write a millisecond later changes the tag');
  assert.notEqual(makeValidators(1025, 1_700_000_000_123.456).etag, v.etag);
});

test('evaluatePreconditions: the order of RFC 9110 §13.2.2', () => {
  const v = makeValidators(10, 1_700_000_000_000);
  const later = 'Wed, 15 Nov 2023 00:00:00 GMT';
  const earlier = 'Mon, 13 Nov 2023 00:00:00 GMT';
  const cases: [Record<string, string>, string][] = [
    [{}, 'proceed'],
    [{ 'if-none-match': v.etag }, 'not-modified'],
    [{ 'if-none-match': `W/${v.etag}` }, 'not-modified'],
    [{ 'if-none-match': '"a", "b"' }, 'proceed'],
    [{ 'if-none-match': '*' }, 'not-modified'],
    [{ 'if-modified-since': v.lastModified }, 'not-modified'],
    [{ 'if-modified-since': later }, 'not-modified'],
    [{ 'if-modified-since': earlier }, 'proceed'],
    [{ 'if-none-match': '"x"', 'if-modified-since': later }, 'proceed'],
    [{ 'if-match': '"x"' }, 'failed'],
    [{ 'if-match': `W/${v.etag}` }, 'failed'],
    [{ 'if-match': v.etag, 'if-none-match': v.etag }, 'not-modified'],
    [{ 'if-match': '*' }, 'proceed'],
    [{ 'if-unmodified-since': earlier }, 'failed'],
    [{ 'if-unmodified-since': later }, 'proceed'],
    [{ 'if-match': v.etag, 'if-unmodified-since': earlier }, 'proceed'],
  ];
  for (const [h, want] of cases) assert.equal(evaluatePreconditions(h, v), want, JSON.stringify(h));
});

test('ifRangeAllows: strong tag or an old enough exact date', () => {
  const v = makeValidators(10, 1_700_000_000_000);
  const now = 1_800_000_000_000;
  assert.equal(ifRangeAllows({}, v, now), true);
  assert.equal(ifRangeAllows({ 'if-range': v.etag }, v, now), true);
  assert.equal(ifRangeAllows({ 'if-range': `W/${v.etag}` }, v, now), false);
  assert.equal(ifRangeAllows({ 'if-range': '"other"' }, v, now), false);
  assert.equal(ifRangeAllows({ 'if-range': v.lastModified }, v, now), true);
  assert.equal(ifRangeAllows({ 'if-range': v.lastModified }, v, 1_700_000_000_500), false, 'Last-Modified is weak within its second');
  assert.equal(ifRangeAllows({ 'if-range': 'garbage' }, v, now), false);
});
