// Test harness for the static mount: a tiny node:http server around one Mount, a raw-socket client,
// and a throwaway public/ tree with a secret file just outside it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../../src/log.js';
import type { Mount, RequestContext } from '../../src/http/route.js';

export const SECRET = 'TOP-SECRET-DO-NOT-SERVE';

export interface Tree {
  /** The temporary directory; `public/` is the served root, `secret.txt` sits beside it. */
  readonly dir: string;
  readonly root: string;
  remove(): void;
}

/** Builds the fixture tree: the files every static test talks about. */
export function makeTree(): Tree {
  const dir = mkdtempSync(join(tmpdir(), 'ff-static-'));
  const root = join(dir, 'public');
  const w = (rel: string, body: string | Buffer): void => writeFileSync(join(root, rel), body);
  writeFileSync(join(dir, 'secret.txt'), `${SECRET}\n`);
  mkdirSync(join(dir, 'outside-dir'));
  writeFileSync(join(dir, 'outside-dir', 'index.html'), `${SECRET}\n`);
  mkdirSync(root);
  for (const d of ['sub', 'noindex', '.hidden', 'with space']) mkdirSync(join(root, d));
  w('index.html', '<!doctype html><title>home</title>\n');
  w('hello.txt', 'hello, static world\n');
  w('style.css', 'body { color: black; }\n');
  w('app.js', 'console.log(1);\n');
  w('data.json', '{"a":1}\n');
  w('image.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  w('noext', 'binary?\n');
  w('empty.txt', '');
  w('digits.txt', '0123456789');
  w('.env', `${SECRET}\n`);
  w('.hidden/file.txt', `${SECRET}\n`);
  w('sub/index.html', '<!doctype html><title>sub</title>\n');
  w('noindex/a.txt', 'a\n');
  w('with space/f.txt', 'spaced\n');
  symlinkSync('../secret.txt', join(root, 'link-out.txt'));
  symlinkSync('../outside-dir', join(root, 'linkdir-out'));
  symlinkSync('hello.txt', join(root, 'link-in.txt'));
  symlinkSync('.env', join(root, 'link-dot.txt'));
  return { dir, root, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Running {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `mount` on 127.0.0.1 at an ephemeral port, with the minimal context the front would build. */
export async function serve(mount: Mount, log: Logger = silentLogger()): Promise<Running> {
  let n = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const ctx: RequestContext = {
      id: `t-${++n}`,
      log,
      method: req.method ?? 'GET',
      target,
      rawPath: q < 0 ? target : target.slice(0, q),
      query: q < 0 ? '' : target.slice(q + 1),
      redirectDepth: 0,
      kind: 'static',
      redirect: () => Promise.reject(new Error('no redirects in this harness')),
    };
    mount.handle(req, res, ctx).catch((err: unknown) => {
      res.statusCode = 599;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The whole response as latin1 text, for "this must never appear" checks. */
  readonly raw: string;
}

/**
 * Sends one request with the target exactly as given (no URL normalisation, unlike fetch) and
 * reads until the server closes (Connection: close). Rejects after `timeoutMs`.
 */
export async function request(port: number, method: string, target: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<RawResponse> {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return parse(await exchange(port, `${lines.join('\r\n')}\r\n\r\n`, timeoutMs, `${method} ${target}`));
}

/** Writes `text` (latin1) on a new connection and resolves with every byte until the server closes it. */
export function exchange(port: number, text: string, timeoutMs: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timeout: ${what}`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(text, 'latin1'));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

function parse(buf: Buffer): RawResponse {
  const raw = buf.toString('latin1');
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete response head: ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine = '', ...fields] = raw.slice(0, end).split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const i = f.indexOf(':');
    headers[f.slice(0, i).trim().toLowerCase()] = f.slice(i + 1).trim();
  }
  const body = buf.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') throw new Error('unexpected chunked static response');
  return { status, headers, body, raw };
}
