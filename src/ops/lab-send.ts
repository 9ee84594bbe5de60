// The lab's own HTTP client: sends one request to this server as raw bytes and keeps the raw answer.
//
// The lab shows the request exactly as sent and the response exactly as received, so it writes
// and reads the bytes itself (a browser's fetch hides both, and refuses headers such as Cookie).
import { connect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** Where this server took the lab's own request: the same socket address serves the lab's sends. */
export type SelfAddress = { readonly host: string; readonly port: number } | { readonly path: string };

const MAX_ANSWER = 256 * 1024;

export function selfAddress(req: IncomingMessage): SelfAddress {
  const s = req.socket as Socket & { server?: { address(): unknown } };
  if (s.localPort !== undefined && s.localAddress !== undefined) return { host: s.localAddress, port: s.localPort };
  const a = s.server?.address();
  return { path: typeof a === 'string' ? a : '' };
}

export interface LabRequest {
  readonly method: string;
  readonly target: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

/** The request's bytes: the request line, Host, the user's fields, the trace field, framing, body. */
export function rawRequest(r: LabRequest, host: string, traceField: readonly [string, string] | null): Buffer {
  const body = Buffer.from(r.body, 'utf8');
  let head = `${r.method} ${r.target} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of r.headers) head += `${name}: ${value}\r\n`;
  if (traceField !== null) head += `${traceField[0]}: ${traceField[1]}\r\n`;
  const hasLength = r.headers.some(([n]) => n.toLowerCase() === 'content-length' || n.toLowerCase() === 'transfer-encoding');
  if (body.length > 0 && !hasLength) head += `Content-Length: ${body.length}\r\n`;
  head += 'Connection: close\r\n\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Sends the bytes and reads until the server closes; at most MAX_ANSWER bytes, at most `timeoutMs`. */
export function exchange(at: SelfAddress, bytes: Buffer, timeoutMs: number): Promise<{ answer: Buffer; truncated: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket = 'path' in at ? connect(at.path) : connect(at.port, at.host);
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    const timer = setTimeout(() => socket.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', (c: Buffer) => {
      if (size + c.length > MAX_ANSWER) {
        truncated = true;
        chunks.push(c.subarray(0, MAX_ANSWER - size));
        size = MAX_ANSWER;
        socket.destroy();
        return;
      }
      chunks.push(c);
      size += c.length;
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      if (truncated) resolve({ answer: Buffer.concat(chunks), truncated, ms: performance.now() - t0 });
      else reject(err);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ answer: Buffer.concat(chunks), truncated, ms: performance.now() - t0 });
    });
    socket.write(bytes);
  });
}
