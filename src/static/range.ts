// Static files: parses a Range request header (RFC 9110 §14.1–14.2) for one representation size.
//
// Only single byte ranges are served. A multi-range request is ignored (answered 200 with the whole
// file), which RFC 9110 §14.2 allows ("a server MAY ignore the Range header field"); it spares us
// multipart/byteranges, which no browser or download tool needs for static files.

export type RangeResult =
  /** Serve 206 with bytes start..end inclusive (RFC 9110 §14.1.1 positions). */
  | { readonly kind: 'satisfiable'; readonly start: number; readonly end: number }
  /** Serve 416 with `Content-Range: bytes *\/size` (RFC 9110 §15.5.17). */
  | { readonly kind: 'unsatisfiable' }
  /** Serve the whole representation with 200: no header, another unit, bad syntax, several ranges. */
  | { readonly kind: 'ignored' };

const IGNORED: RangeResult = { kind: 'ignored' };
const UNSATISFIABLE: RangeResult = { kind: 'unsatisfiable' };

// int-range = first-pos "-" [ last-pos ] / suffix-range = "-" suffix-length (RFC 9110 §14.1.1).
// Digits only: no sign, no spaces inside, no exponent; whitespace around the spec is tolerated.
const SINGLE = /^\s*(\d*)\s*-\s*(\d*)\s*$/;

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return IGNORED;
  const eq = header.indexOf('=');
  if (eq < 0) return IGNORED;
  // The range unit is case-insensitive (RFC 9110 §14.1); another unit is ignored (§14.2).
  if (header.slice(0, eq).trim().toLowerCase() !== 'bytes') return IGNORED;
  const set = header.slice(eq + 1);
  if (set.includes(',')) return IGNORED;
  // An empty representation has no byte to select; RFC 9110 §14.1.1 only lets a suffix range
  // match it vacuously. Serving the (empty) 200 is what every client expects.
  if (size === 0) return IGNORED;
  const m = SINGLE.exec(set);
  if (!m) return IGNORED;
  const first = m[1] ?? '';
  const last = m[2] ?? '';
  if (first === '' && last === '') return IGNORED;
  if (first === '') {
    // suffix-range: the last N bytes; "-0" selects nothing and is unsatisfiable (§14.1.1).
    const n = toInt(last);
    if (n === undefined) return IGNORED;
    if (n === 0) return UNSATISFIABLE;
    return { kind: 'satisfiable', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = toInt(first);
  if (start === undefined) return IGNORED;
  let end = size - 1;
  if (last !== '') {
    const l = toInt(last);
    // last-pos < first-pos makes the range-spec invalid, so the whole field is ignored (§14.1.1).
    if (l === undefined || l < start) return IGNORED;
    end = Math.min(l, size - 1);
  }
  // A first-pos at or past the end selects nothing: unsatisfiable (§14.1.1, §15.5.17).
  if (start >= size) return UNSATISFIABLE;
  return { kind: 'satisfiable', start, end };
}

function toInt(digits: string): number | undefined {
  // Beyond 2^53 a position is meaningless for a file we can serve: treat it as a syntax error.
  if (digits.length > 15) return undefined;
  return Number(digits);
}
