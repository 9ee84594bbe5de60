// A tiny FastCGI client for the pool tests: one request per connection (no KEEP_CONN), a deadline.
//
// Deliberately independent of src/fastcgi/client.ts: the tests of the process manager should not
// fail because of the client's pooling; the keep-alive path is exercised through nginx instead.
import net from 'node:net';
import { RecordDecoder } from '../../src/fastcgi/decoder.js';
import {
  FCGI_END_REQUEST, FCGI_PARAMS, FCGI_RESPONDER, FCGI_STDERR, FCGI_STDIN, FCGI_STDOUT,
  encodeBeginRequest, encodeNameValuePairs, encodeRecord,
} from '../../src/fastcgi/protocol.js';

export interface FcgiResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly appStatus: number;
  readonly protocolStatus: number;
  /** The CGI Status header field's code (200 when absent, RFC 3875 §6.3.3). */
  readonly status: number;
  /** The response body after the CGI header block. */
  readonly body: string;
}

export type Address = { path: string } | { host: string; port: number };

export function fcgiRequest(address: Address, params: Record<string, string>, opts: { stdin?: string; timeoutMs?: number; /** CONTENT_LENGTH as sent (null: none); default the stdin's length. */ contentLength?: string | null } = {}): Promise<FcgiResult> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(address);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let settled = false;
    const finish = (err: Error | null, result?: FcgiResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(result!);
    };
    const timer = setTimeout(() => finish(new Error(`FastCGI request timed out after ${opts.timeoutMs ?? 10_000} ms`)), opts.timeoutMs ?? 10_000);
    const decoder = new RecordDecoder({
      onStream(type, _id, data) {
        if (type === FCGI_STDOUT) stdout.push(Buffer.from(data));
        else if (type === FCGI_STDERR) stderr.push(Buffer.from(data));
      },
      onRecord(type, _id, content) {
        if (type !== FCGI_END_REQUEST) return;
        const out = Buffer.concat(stdout).toString('utf8');
        const split = out.indexOf('\r\n\r\n') >= 0 ? out.indexOf('\r\n\r\n') : out.indexOf('\n\n');
        const head = split < 0 ? out : out.slice(0, split);
        const m = /^status:\s*(\d{3})/im.exec(head);
        finish(null, {
          stdout: out,
          stderr: Buffer.concat(stderr).toString('utf8'),
          appStatus: content.readUInt32BE(0),
          protocolStatus: content[4]!,
          status: m ? Number(m[1]) : 200,
          body: split < 0 ? '' : out.slice(split + (out[split] === '\r' ? 4 : 2)),
        });
      },
    });
    socket.on('data', (chunk: Buffer) => {
      const err = decoder.push(chunk);
      if (err) finish(err);
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error('connection closed before FCGI_END_REQUEST')));
    const body = Buffer.from(opts.stdin ?? '');
    const all: Record<string, string> = { REQUEST_METHOD: 'GET', QUERY_STRING: '', GATEWAY_INTERFACE: 'CGI/1.1', SERVER_PROTOCOL: 'HTTP/1.1', ...params };
    if (opts.contentLength !== undefined) {
      if (opts.contentLength === null) delete all['CONTENT_LENGTH'];
      else all['CONTENT_LENGTH'] = opts.contentLength;
    } else if (body.length > 0) all['CONTENT_LENGTH'] = String(body.length);
    socket.write(
      Buffer.concat([
        encodeBeginRequest(1, FCGI_RESPONDER, false),
        encodeRecord(FCGI_PARAMS, 1, encodeNameValuePairs(Object.entries(all))),
        encodeRecord(FCGI_PARAMS, 1),
        ...(body.length > 0 ? [encodeRecord(FCGI_STDIN, 1, body)] : []),
        encodeRecord(FCGI_STDIN, 1),
      ]),
    );
  });
}

export interface LoadReport {
  ok: number;
  failed: number;
  errors: string[];
  bodies: string[];
}

/**
 * Steady load: `concurrency` loops, each sending requests back to back until stop() is called.
 * Returns the report once every loop finished its last request.
 */
export function steadyLoad(address: Address, params: () => Record<string, string>, concurrency: number): { stop: () => Promise<LoadReport>; report: LoadReport } {
  const report: LoadReport = { ok: 0, failed: 0, errors: [], bodies: [] };
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const r = await fcgiRequest(address, params(), { timeoutMs: 15_000 });
        if (r.status === 200) {
          report.ok += 1;
          report.bodies.push(r.body);
        } else {
          report.failed += 1;
          report.errors.push(`status ${r.status}: ${r.body.slice(0, 200)}`);
        }
      } catch (err) {
        report.failed += 1;
        report.errors.push((err as Error).message);
      }
    }
  });
  return {
    report,
    async stop() {
      running = false;
      await Promise.all(loops);
      return report;
    },
  };
}
