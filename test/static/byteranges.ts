// Test helper: a strict reader of multipart/byteranges bodies (RFC 9110 §14.6, RFC 2046 §5.1.1).
//
// Strict on purpose: every delimiter must sit exactly where the previous part's Content-Range says
// its data ends, the first delimiter opens the body, and the close-delimiter plus CRLF closes it.
import assert from 'node:assert/strict';

export interface ByterangesPart {
  readonly headers: Readonly<Record<string, string>>;
  readonly start: number;
  readonly end: number;
  readonly size: number;
  readonly data: Buffer;
}

// boundary := 0*69<bchars> bcharsnospace (RFC 2046 §5.1.1), here unquoted, so a token.
const CONTENT_TYPE = /^multipart\/byteranges; boundary=([0-9A-Za-z'+_\-.]{1,70})$/;
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

/** The boundary of a multipart/byteranges Content-Type, or a failed assertion. */
export function boundaryOf(contentType: string | undefined): string {
  const m = CONTENT_TYPE.exec(contentType ?? '');
  assert.ok(m?.[1], `not multipart/byteranges with a boundary: ${contentType}`);
  return m[1];
}

export function parseByteranges(body: Buffer, contentType: string | undefined): ByterangesPart[] {
  const boundary = boundaryOf(contentType);
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const crlf = Buffer.from('\r\n');
  const parts: ByterangesPart[] = [];
  let pos = 0;
  for (;;) {
    assert.ok(body.subarray(pos, pos + delimiter.length).equals(delimiter), `delimiter expected at ${pos}`);
    pos += delimiter.length;
    if (body.subarray(pos, pos + 2).toString('latin1') === '--') {
      assert.equal(body.subarray(pos + 2).toString('latin1'), '\r\n', 'close-delimiter CRLF ends the body');
      break;
    }
    assert.ok(body.subarray(pos, pos + 2).equals(crlf), `CRLF after delimiter at ${pos}`);
    pos += 2;
    const headEnd = body.indexOf('\r\n\r\n', pos, 'latin1');
    assert.ok(headEnd >= 0, 'part header section ends');
    const headers: Record<string, string> = {};
    for (const line of body.subarray(pos, headEnd).toString('latin1').split('\r\n')) {
      const i = line.indexOf(':');
      assert.ok(i > 0, `part header line: ${line}`);
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const m = CONTENT_RANGE.exec(headers['content-range'] ?? '');
    assert.ok(m, `part Content-Range: ${headers['content-range']}`);
    const start = Number(m[1]);
    const end = Number(m[2]);
    const dataStart = headEnd + 4;
    const data = body.subarray(dataStart, dataStart + end - start + 1);
    assert.equal(data.length, end - start + 1, 'part data complete');
    pos = dataStart + data.length;
    // The delimiter found by searching must be the one the Content-Range predicts.
    assert.equal(body.indexOf(Buffer.concat([crlf, delimiter]), dataStart), pos, 'next delimiter right after the data');
    pos += 2;
    parts.push({ headers, start, end, size: Number(m[3]), data });
  }
  return parts;
}

/** A deterministic, non-repeating-at-small-scale byte pattern, so a shifted range cannot match. */
export function pattern(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + (i >> 8) * 13 + (i >> 16)) & 0xff;
  return b;
}
