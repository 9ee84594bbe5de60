// Multi-range answers side by side with nginx serving the same files: same status, same parts
// (ranges, order and bytes). Only the framing details differ, both valid RFC 2046 §5.1.1: nginx
// opens the body with an empty preamble line, and its boundary is a counter. Where we differ on
// purpose, nothing is compared: nginx answers a syntax error ("bytes=0-1,x") with 416 where we
// ignore the invalid field as our single-range code always did (RFC 9110 §14.2: 200 whole), and
// nginx does not coalesce ("bytes=0-4,5-9" gives it two parts, us one 206 for 0-9).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { createStaticMount } from '../../src/static/serve.js';
import { findTool, freePort, waitForPort } from '../fastcgi/peers.js';
import { parseByteranges, pattern } from './byteranges.js';
import { makeTree, request, serve, type RawResponse, type Running, type Tree } from './harness.js';

const nginx = findTool('nginx');
const BIG = pattern(300 * 1024 + 17);
const n = BIG.length;

/** Status, then each part as "start-end" with its bytes (or the body of a non-multipart answer). */
function summary(r: RawResponse): { status: number; parts: [string, Buffer][] } {
  // Error pages differ in wording: a 416 is compared by its Content-Range alone.
  if (r.status === 416) return { status: r.status, parts: [[r.headers['content-range'] ?? '', Buffer.alloc(0)]] };
  if (r.status !== 206 || !r.headers['content-type']?.startsWith('multipart/')) return { status: r.status, parts: [[r.headers['content-range'] ?? '', r.body]] };
  // An empty preamble (CRLF before the first delimiter) is allowed; our reader wants none.
  const body = r.body.subarray(0, 2).toString('latin1') === '\r\n' ? r.body.subarray(2) : r.body;
  assert.equal(Number(r.headers['content-length']), r.body.length);
  return { status: 206, parts: parseByteranges(body, r.headers['content-type']).map((p) => [`${p.start}-${p.end}`, p.data]) };
}

describe('multi-range like nginx', { timeout: 30_000 }, () => {
  let tree: Tree | undefined;
  let srv: Running | undefined;
  let child: ChildProcess | undefined;
  let nginxPort = 0;

  before(async () => {
    if (nginx === null) return;
    tree = makeTree();
    writeFileSync(join(tree.root, 'big.bin'), BIG);
    srv = await serve(createStaticMount({ root: tree.root, log: silentLogger() }));
    nginxPort = await freePort();
    const conf = join(tree.dir, 'nginx');
    mkdirSync(conf);
    // One process (master_process off), so killing it leaves nothing behind.
    writeFileSync(join(conf, 'nginx.conf'), `${process.getuid?.() === 0 ? 'user root;' : ''}
master_process off;
error_log ${conf}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  default_type application/octet-stream;
  client_body_temp_path ${conf}/body;
  proxy_temp_path ${conf}/proxy;
  fastcgi_temp_path ${conf}/fastcgi;
  uwsgi_temp_path ${conf}/uwsgi;
  scgi_temp_path ${conf}/scgi;
  server { listen 127.0.0.1:${nginxPort}; root ${tree.root}; }
}
`);
    child = spawn(nginx, ['-c', join(conf, 'nginx.conf'), '-p', conf, '-g', `daemon off; pid ${conf}/nginx.pid;`], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.resume();
    await waitForPort(nginxPort, child);
  });

  after(async () => {
    child?.kill('SIGKILL');
    await srv?.close();
    tree?.remove();
  });

  // Disjoint, non-adjacent ranges: the cases where coalescing (which nginx does not do) is moot.
  const cases: [string, string][] = [
    ['/digits.txt', 'bytes=0-2,5-7'],
    ['/big.bin', 'bytes=0-9,20-29'],
    ['/big.bin', 'bytes=200000-200099,0-9,-5'],
    ['/big.bin', `bytes=100-199,1000-140000,${n - 50}-${n + 1000}`],
    ['/big.bin', `bytes=2-3,${n}-,5-6`],
    ['/big.bin', `bytes=0-0,${n + 5}-${n + 9}`],
    ['/big.bin', `bytes=${n}-,${n + 100}-${n + 200}`],
  ];
  for (const [path, range] of cases) {
    test(`${path} ${range}`, async (t) => {
      if (nginx === null || srv === undefined) {
        t.skip('nginx not installed');
        return;
      }
      const ours = summary(await request(srv.port, 'GET', path, { Range: range }));
      const theirs = summary(await request(nginxPort, 'GET', path, { Range: range }));
      assert.equal(ours.status, theirs.status);
      assert.deepEqual(ours.parts.map(([r]) => r), theirs.parts.map(([r]) => r));
      ours.parts.forEach(([r, data], i) => assert.ok(data.equals(theirs.parts[i]?.[1] ?? Buffer.alloc(0)), r));
    });
  }
});
