// Range parsing (RFC 9110 §14) and conditional evaluation (§13) as pure functions, table-driven.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePreconditions, ifRangeAllows, makeValidators } from '../../src/static/conditional.js';
import { parseRange, type RangeResult } from '../../src/static/range.js';

const sat = (start: number, end: number): RangeResult => ({ kind: 'satisfiable', start, end });
const UNSAT: RangeResult = { kind: 'unsatisfiable' };
const IGN: RangeResult = { kind: 'ignored' };

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
    ['bytes=0-1,5-6', IGN],
    ['bytes=0-1, 200-300', IGN],
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
