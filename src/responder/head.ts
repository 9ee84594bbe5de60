// What a one-request-per-connection protocol (uwsgi, SCGI) decodes before the body: the meta-variables.
//
// Both protocols send the CGI meta-variables (RFC 3875 §4.1) as byte-string pairs, then the body
// raw, its length from CONTENT_LENGTH (§4.1.2). A decoder is fed the connection's bytes at any
// chunk boundary and answers "need more", the head and the bytes after it, or an error.

/** The decoded head: the meta-variables, and the first bytes of the body that came with it. */
export interface DecodedHead {
  readonly params: Map<string, string>;
  /** What followed the head in the last chunk (the start of the body): a view, not a copy. */
  readonly rest: Buffer;
}

/** too-large: past the format's or our bound (answered 431); malformed: the connection is closed. */
export interface HeadError {
  readonly kind: 'too-large' | 'malformed';
  readonly message: string;
}

export interface HeadDecoder {
  /** null: the head is not complete yet (the decoder kept what it needs). */
  push(chunk: Buffer): DecodedHead | HeadError | null;
}

export function isHeadError(v: DecodedHead | HeadError): v is HeadError {
  return 'kind' in v;
}

/**
 * One pair into the meta-variables. Several request header lines of one name (X-Forwarded-For
 * twice) may come as several HTTP_* pairs (nginx before 1.23 sends them so): they are combined as
 * RFC 9110 §5.3 combines field lines, "a, b", and cookies as RFC 6265 §5.4 does, "a; b". For any
 * other variable the last one wins, as with FastCGI PARAMS.
 */
export function addVar(into: Map<string, string>, name: string, value: string): void {
  const had = name.startsWith('HTTP_') ? into.get(name) : undefined;
  if (had === undefined) into.set(name, value);
  else into.set(name, had + (name === 'HTTP_COOKIE' ? '; ' : ', ') + value);
}

/** The bytes of a name or value: latin1 for ASCII (one cheap decode), else UTF-8 as FastCGI PARAMS. */
export function textOf(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return buf.toString('utf8', start, end);
  return buf.toString('latin1', start, end);
}
