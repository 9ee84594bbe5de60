// Sends raw bytes over a TCP socket and collects the answer: for requests a client would normalise.
import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly head: string;
  readonly body: Buffer;
  readonly raw: Buffer;
}

/** Sends `request` as is, reads until the server closes or `timeoutMs`, parses the first response. */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolveRaw, rejectRaw) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', rejectRaw);
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const end = raw.indexOf('\r\n\r\n');
      const head = (end < 0 ? raw : raw.subarray(0, end)).toString('latin1');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const c = line.indexOf(':');
        if (c > 0) headers[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
      }
      resolveRaw({ status: Number(statusLine.split(' ')[1] ?? 0), headers, head, body: end < 0 ? Buffer.alloc(0) : raw.subarray(end + 4), raw });
    });
  });
}
