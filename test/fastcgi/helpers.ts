// Test helpers for FastCGI: a responder on an ephemeral port, raw record exchanges, log capture.
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/log.js';
import { createResponder, type Responder, type ResponderOptions } from '../../src/fastcgi/server.js';
import { RecordDecoder } from '../../src/fastcgi/decoder.js';

export interface Listening {
  responder: Responder;
  server: net.Server;
  port: number;
  close(): Promise<void>;
}

export async function listenResponder(opts: Omit<ResponderOptions, 'log'> & { log?: Logger }): Promise<Listening> {
  const responder = createResponder({ log: opts.log ?? pino({ level: 'silent' }), ...opts });
  const server = net.createServer();
  responder.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    responder,
    server,
    port,
    async close() {
      // server.close() calls back only once every connection ended, which responder.close() does.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await responder.close(1000);
      await closed;
    },
  };
}

/** A logger whose JSON lines are kept for assertions. */
export function captureLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, dest), lines };
}

export interface RawRecord {
  type: number;
  id: number;
  content: Buffer;
}

/** Sends bytes on a raw socket and collects whole records until the peer closes or `until` says stop. */
export async function rawExchange(port: number, bytes: Buffer, until: (recs: RawRecord[]) => boolean, timeoutMs = 3000): Promise<{ records: RawRecord[]; closed: boolean }> {
  const sock = net.connect(port, '127.0.0.1');
  const records: RawRecord[] = [];
  const pending = new Map<string, Buffer[]>();
  const dec = new RecordDecoder({
    onStream(type, id, data) {
      const k = `${type}:${id}`;
      if (data.length > 0) {
        pending.set(k, [...(pending.get(k) ?? []), Buffer.from(data)]);
        return;
      }
      records.push({ type, id, content: Buffer.concat(pending.get(k) ?? []) });
      pending.delete(k);
    },
    onRecord(type, id, content) {
      records.push({ type, id, content: Buffer.from(content) });
    },
  });
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`raw exchange timed out with ${records.length} records`));
    }, timeoutMs);
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ records, closed });
    };
    sock.on('data', (c: Buffer) => {
      dec.push(c);
      if (until(records)) done(false);
    });
    sock.on('error', () => {});
    sock.on('close', () => done(true));
    sock.write(bytes);
  });
}
