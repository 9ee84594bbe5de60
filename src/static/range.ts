// Static files: parses a Range request header (RFC 9110 §14.1–14.2) for one representation size.
//
// A range-set is reduced to what we send: unsatisfiable range-specs are dropped (§14.1.1: the set
// is satisfiable when any spec is), overlapping or adjacent ones are coalesced (§14.2 allows it
// "regardless of the order"), the rest keep the order of the request (§15.3.7.2 SHOULD). One
// range left is a single-part 206; two or more are multipart/byteranges (multipart.ts).
//
// Abuse (Apache's CVE-2011-3192, "Range header DoS": hundreds of overlapping ranges, each sent as a
// part of the whole file): §14.2 lets a server ignore such a set. We do two things:
//  - coalescing: overlapping ranges cost nothing, because the coalesced ranges are disjoint, so
//    the bytes sent never exceed the file size (nginx instead ignores a set whose sum exceeds the
//    file size; coalescing serves those honest-but-clumsy clients and is as safe);
//  - a bound of MAX_RANGES range-specs (empty list elements counted): a longer set is ignored and
//    the whole file goes out with 200, like Apache's MaxRanges and nginx's max_ranges. A 200 is
//    always a correct answer (a server MAY ignore Range), a 416 would wrongly tell the client its
//    ranges lie outside the file. With at most 16 parts, the framing overhead is bounded by ~2 KiB.

/** One byte range, positions inclusive (RFC 9110 §14.1.1), within the representation. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export type RangeResult =
  /** Serve 206 with bytes start..end inclusive (RFC 9110 §14.1.1 positions). */
  | { readonly kind: 'satisfiable'; readonly start: number; readonly end: number }
  /** Serve 206 multipart/byteranges (§14.6): two or more disjoint ranges, in the order to send them. */
  | { readonly kind: 'multiple'; readonly ranges: readonly ByteRange[] }
  /** Serve 416 with `Content-Range: bytes *\/size` (RFC 9110 §15.5.17). */
  | { readonly kind: 'unsatisfiable' }
  /** Serve the whole representation with 200: no header, another unit, bad syntax, too many ranges. */
  | { readonly kind: 'ignored' };

/** More range-specs than this and the Range field is ignored (see the top of the file). */
export const MAX_RANGES = 16;

const IGNORED: RangeResult = { kind: 'ignored' };
const UNSATISFIABLE: RangeResult = { kind: 'unsatisfiable' };

// int-range = first-pos "-" [ last-pos ] / suffix-range = "-" suffix-length (RFC 9110 §14.1.1).
// Digits only: no sign, no spaces inside, no exponent; whitespace around the spec is tolerated.
const SPEC = /^\s*(\d*)\s*-\s*(\d*)\s*$/;

/** One range-spec: a range to send, nothing (unsatisfiable), or a syntax error. */
type Spec = ByteRange | 'unsatisfiable' | 'invalid';

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return IGNORED;
  const eq = header.indexOf('=');
  if (eq < 0) return IGNORED;
  // The range unit is case-insensitive (RFC 9110 §14.1); another unit is ignored (§14.2).
  if (header.slice(0, eq).trim().toLowerCase() !== 'bytes') return IGNORED;
  // An empty representation has no byte to select; RFC 9110 §14.1.1 only lets a suffix range
  // match it vacuously. Serving the (empty) 200 is what every client expects.
  if (size === 0) return IGNORED;
  const elements = header.slice(eq + 1).split(',', MAX_RANGES + 1);
  if (elements.length > MAX_RANGES) return IGNORED;
  const ranges: ByteRange[] = [];
  for (const element of elements) {
    // Empty list elements are allowed and ignored (RFC 9110 §5.6.1.2): "bytes=0-1,,3-4".
    if (element.trim() === '') continue;
    const spec = parseSpec(element, size);
    // One invalid range-spec makes the whole set invalid, and an invalid Range is ignored (§14.2).
    if (spec === 'invalid') return IGNORED;
    if (spec !== 'unsatisfiable') ranges.push(spec);
  }
  if (ranges.length === 0) {
    // No spec at all ("bytes=" or "bytes=,") is a syntax error; specs that all miss are a 416.
    return elements.some((e) => e.trim() !== '') ? UNSATISFIABLE : IGNORED;
  }
  const merged = coalesce(ranges);
  const first = merged[0];
  if (merged.length === 1 && first !== undefined) return { kind: 'satisfiable', start: first.start, end: first.end };
  return { kind: 'multiple', ranges: merged };
}

/** One range-spec against `size` (> 0), clamped to the representation (RFC 9110 §14.1.1). */
function parseSpec(text: string, size: number): Spec {
  const m = SPEC.exec(text);
  if (!m) return 'invalid';
  const first = m[1] ?? '';
  const last = m[2] ?? '';
  if (first === '' && last === '') return 'invalid';
  if (first === '') {
    // suffix-range: the last N bytes; "-0" selects nothing and is unsatisfiable (§14.1.1).
    const n = toInt(last);
    if (n === undefined) return 'invalid';
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = toInt(first);
  if (start === undefined) return 'invalid';
  let end = size - 1;
  if (last !== '') {
    const l = toInt(last);
    // last-pos < first-pos makes the range-spec invalid (§14.1.1).
    if (l === undefined || l < start) return 'invalid';
    end = Math.min(l, size - 1);
  }
  // A first-pos at or past the end selects nothing: unsatisfiable (§14.1.1, §15.5.17).
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * Merges ranges that overlap or touch (RFC 9110 §14.2 "MAY coalesce"). A merged range takes the
 * place of its earliest member in the request, so disjoint ranges keep the client's order
 * (§15.3.7.2). At most MAX_RANGES ranges: the quadratic-free sort is cheap.
 */
export function coalesce(ranges: readonly ByteRange[]): ByteRange[] {
  const order = ranges.map((r, i) => ({ start: r.start, end: r.end, first: i })).sort((a, b) => a.start - b.start || a.end - b.end);
  const groups: { start: number; end: number; first: number }[] = [];
  for (const r of order) {
    const last = groups[groups.length - 1];
    // end + 1 >= start: overlapping or adjacent (bytes 0-4 and 5-9 are one range 0-9).
    if (last !== undefined && last.end + 1 >= r.start) {
      last.end = Math.max(last.end, r.end);
      last.first = Math.min(last.first, r.first);
    } else {
      groups.push({ ...r });
    }
  }
  return groups.sort((a, b) => a.first - b.first).map(({ start, end }) => ({ start, end }));
}

function toInt(digits: string): number | undefined {
  // Beyond 2^53 a position is meaningless for a file we can serve: treat it as a syntax error.
  if (digits.length > 15) return undefined;
  return Number(digits);
}
