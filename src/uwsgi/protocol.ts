// The uwsgi packet (request side), as nginx's uwsgi_pass sends it: header, vars, then the raw body.
//
// uwsgi protocol documentation ("The uwsgi protocol"): a 4-byte header, modifier1 (u8),
// datasize (u16 little-endian), modifier2 (u8); with modifier1 0 ("WSGI/CGI variables") the
// datasize bytes that follow are the vars, each a u16 little-endian key size, the key, a u16
// little-endian value size, the value. The request body follows raw; its length is CONTENT_LENGTH.
// nginx sends uwsgi_modifier1 0 and uwsgi_modifier2 0 unless configured otherwise.
import { addVar, textOf, type DecodedHead, type HeadDecoder, type HeadError } from '../responder/head.js';

export const UWSGI_HEADER_LEN = 4;
/** modifier1 0: the packet carries CGI variables (the only kind a CGI gateway can serve). */
export const UWSGI_MODIFIER1_VARS = 0;
/** datasize is 16 bits: the vars of one request never exceed this. */
export const UWSGI_MAX_VARS = 0xffff;

/** The vars block as pairs (null: malformed, a size running past the block). */
export function decodeUwsgiVars(buf: Buffer, start: number, end: number): Map<string, string> | null {
  const vars = new Map<string, string>();
  let off = start;
  while (off < end) {
    if (off + 2 > end) return null;
    const kl = buf.readUInt16LE(off);
    off += 2;
    if (off + kl + 2 > end) return null;
    const key = textOf(buf, off, off + kl);
    off += kl;
    const vl = buf.readUInt16LE(off);
    off += 2;
    if (off + vl > end) return null;
    addVar(vars, key, textOf(buf, off, off + vl));
    off += vl;
  }
  return vars;
}

/** A whole packet header and vars (for tests and clients); throws past the 16-bit sizes. */
export function encodeUwsgiPacket(pairs: ReadonlyArray<readonly [string, string]>, modifier1 = UWSGI_MODIFIER1_VARS, modifier2 = 0): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of pairs) {
    const kb = Buffer.from(k, 'utf8');
    const vb = Buffer.from(v, 'utf8');
    if (kb.length > 0xffff || vb.length > 0xffff) throw new RangeError(`uwsgi var ${k} is longer than 65535 bytes`);
    const kl = Buffer.alloc(2);
    kl.writeUInt16LE(kb.length);
    const vl = Buffer.alloc(2);
    vl.writeUInt16LE(vb.length);
    parts.push(kl, kb, vl, vb);
  }
  const body = Buffer.concat(parts);
  if (body.length > UWSGI_MAX_VARS) throw new RangeError(`uwsgi vars of ${body.length} bytes exceed 65535`);
  const head = Buffer.alloc(UWSGI_HEADER_LEN);
  head[0] = modifier1;
  head.writeUInt16LE(body.length, 1);
  head[3] = modifier2;
  return Buffer.concat([head, body]);
}

/**
 * Incremental: the 4-byte header and the vars may arrive split anywhere. A packet that is whole in
 * one chunk (the usual case) is decoded in place; only a split one is assembled (≤ 64 KiB).
 */
export class UwsgiDecoder implements HeadDecoder {
  private readonly head = Buffer.alloc(UWSGI_HEADER_LEN);
  private headFill = 0;
  private vars: Buffer | null = null;
  private varsFill = 0;

  push(chunk: Buffer): DecodedHead | HeadError | null {
    let off = 0;
    if (this.vars === null) {
      if (this.headFill === 0 && chunk.length >= UWSGI_HEADER_LEN) {
        chunk.copy(this.head, 0, 0, UWSGI_HEADER_LEN);
        off = UWSGI_HEADER_LEN;
      } else {
        const n = Math.min(UWSGI_HEADER_LEN - this.headFill, chunk.length);
        chunk.copy(this.head, this.headFill, 0, n);
        this.headFill += n;
        off = n;
        if (this.headFill < UWSGI_HEADER_LEN) return null;
      }
      const modifier1 = this.head[0]!;
      if (modifier1 !== UWSGI_MODIFIER1_VARS) {
        return { kind: 'malformed', message: `uwsgi modifier1 ${modifier1} is not 0 (CGI variables): only uwsgi_modifier1 0 is served` };
      }
      const size = this.head.readUInt16LE(1);
      // Whole in this chunk: decode in place, no copy.
      if (chunk.length - off >= size) return this.done(chunk, off, off + size);
      this.vars = Buffer.allocUnsafe(size);
      this.varsFill = 0;
    }
    const vars = this.vars;
    const n = Math.min(vars.length - this.varsFill, chunk.length - off);
    chunk.copy(vars, this.varsFill, off, off + n);
    this.varsFill += n;
    off += n;
    if (this.varsFill < vars.length) return null;
    const decoded = this.done(vars, 0, vars.length);
    return 'kind' in decoded ? decoded : { params: decoded.params, rest: chunk.subarray(off) };
  }

  private done(buf: Buffer, start: number, end: number): DecodedHead | HeadError {
    const params = decodeUwsgiVars(buf, start, end);
    if (params === null) return { kind: 'malformed', message: 'uwsgi vars block is malformed (a key or value size runs past it)' };
    return { params, rest: buf.subarray(end) };
  }
}
