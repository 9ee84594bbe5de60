// Seeded random FastCGI records: well-formed headers with hostile fields, mixed with plain garbage.
import { FCGI_HEADER_LEN, FCGI_VERSION_1 } from '../../src/fastcgi/protocol.js';

/** xorshift32: the same seed gives the same records, so a failing run can be replayed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return this.next() % n;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

/**
 * One record as a hostile peer would send it (FastCGI 1.0 §3.3): any type 0–15, request ids 0,
 * 1, 2 or random, content lengths that lie about the bytes that follow, padding up to 255,
 * a wrong version now and then, name-value bodies with lengths past the content (§3.4).
 */
export function hostileRecord(rng: Rng, toClient = false): Buffer {
  // A client gives up on a connection at the first broken record: against it, most records are
  // well-formed enough (version 1, the request id it used) to reach the deeper checks.
  const kind = rng.below(toClient ? 100 : 10);
  if (kind === 0) return rng.bytes(1 + rng.below(24)); // not a record at all
  const type = toClient ? [3, 6, 6, 6, 7, 10, 11, rng.below(16)][rng.below(8)] as number : rng.below(16);
  const id = toClient && rng.below(4) !== 0 ? 1 : ([0, 1, 1, 2, rng.below(65536)][rng.below(5)] as number);
  const bodyLen = [0, 1, 8, rng.below(64), rng.below(600)][rng.below(5)] as number;
  const declared = rng.below(8) === 0 ? rng.below(65536) : bodyLen; // sometimes a lie
  const padding = rng.below(4) === 0 ? rng.below(256) : 0;
  const header = Buffer.alloc(FCGI_HEADER_LEN);
  header[0] = rng.below(toClient ? 400 : 20) === 0 ? rng.below(256) : FCGI_VERSION_1;
  header[1] = type;
  header.writeUInt16BE(id, 2);
  header.writeUInt16BE(declared, 4);
  header[6] = padding;
  let body: Buffer;
  if (type === 1 && bodyLen >= 8) {
    // BEGIN_REQUEST: a role (1–3 or junk) and flags (KEEP_CONN or junk).
    body = rng.bytes(bodyLen);
    body.writeUInt16BE([1, 1, 2, 3, rng.below(65536)][rng.below(5)] as number, 0);
  } else if ((type === 4 || type === 9) && bodyLen > 0) {
    // PARAMS / GET_VALUES: name-value pairs whose lengths may run past the content.
    body = rng.bytes(bodyLen);
    if (bodyLen >= 2) {
      body[0] = rng.below(2) === 0 ? rng.below(128) : 0x80 | rng.below(128);
    }
  } else body = rng.bytes(bodyLen);
  return Buffer.concat([header, body, Buffer.alloc(Math.min(padding, rng.below(2) === 0 ? padding : 0))]);
}
