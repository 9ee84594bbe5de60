// `serve`'s /-/status, /-/ping and /-/metrics under real load: counts true, formats parse.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startServer, type RunningServer } from '../helpers/server.js';
import { parseMetrics, parserMissing, sample } from './metrics-parse.js';

const servers: RunningServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

function fixtures(): { cgiBin: string; publicDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ff-ops-'));
  const cgiBin = join(dir, 'cgi-bin');
  const publicDir = join(dir, 'public');
  mkdirSync(cgiBin);
  mkdirSync(publicDir);
  writeFileSync(join(publicDir, 'index.html'), '<p>hi</p>\n');
  copyFileSync(join(repoRoot, 'cgi-bin', 'hello.mjs'), join(cgiBin, 'hello.mjs'));
  writeFileSync(join(cgiBin, 'wait.mjs'), `export default async (request) => {
  const ms = Number(new URL(request.url).searchParams.get('ms') ?? '50');
  await new Promise((r) => setTimeout(r, ms));
  return new Response('waited\\n');
};\n`);
  writeFileSync(join(cgiBin, 'nap.cgi'), `#!/bin/sh\nsleep 0.5\nprintf 'Content-Type: text/plain\\r\\n\\r\\nnap\\n'\n`);
  chmodSync(join(cgiBin, 'nap.cgi'), 0o755);
  return { cgiBin, publicDir };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** `total` requests, `concurrency` at a time; resolves with how many answered 200. */
async function load(url: string, total: number, concurrency: number): Promise<number> {
  let next = 0;
  let ok = 0;
  const lane = async (): Promise<void> => {
    while (next < total) {
      next += 1;
      if ((await get(url)).status === 200) ok += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return ok;
}

async function start(args: string[] = []): Promise<RunningServer> {
  const f = fixtures();
  const s = await startServer(['--cgi-bin', f.cgiBin, '--public', f.publicDir, '--workers', '2', ...args]);
  servers.push(s);
  return s;
}

test('under load, the requests counted equal the requests sent, in the status and in the metrics', { timeout: 60_000 }, async (t) => {
  const s = await start();
  const sent = 600;
  assert.equal(await load(`${s.url}/fcgi-bin/hello.mjs`, sent, 16), sent);
  assert.equal(await load(`${s.url}/index.html`, 50, 4), 50);
  const status = JSON.parse((await get(`${s.url}/-/status?json&full`)).body) as Record<string, unknown> & { processes: Array<Record<string, unknown>> };
  assert.equal(status['accepted conn'], sent, 'every request the pool took is counted once');
  assert.equal(status['process manager'], 'static');
  assert.equal(status['total processes'], 2);
  assert.equal(status.processes.length, 2);
  const served = status.processes.reduce((n, p) => n + Number(p['requests']), 0);
  assert.equal(served, sent);
  for (const p of status.processes) {
    for (const field of ['pid', 'state', 'start time', 'start since', 'requests', 'request duration', 'request method', 'request uri', 'content length', 'script', 'last request cpu', 'last request memory', 'generation', 'rss']) {
      assert.ok(field in p, `process entry has "${field}"`);
    }
    assert.equal(p['answered'], true);
    assert.ok(Number(p['rss']) > 1e6);
  }
  const missing = parserMissing();
  if (missing !== null) return t.skip(missing);
  const fams = parseMetrics((await get(`${s.url}/-/metrics`)).body, 'prometheus');
  assert.equal(sample(fams, 'forkfast_http_requests_total', { route: 'fcgi', code: '2xx' }), sent);
  assert.equal(sample(fams, 'forkfast_http_requests_total', { route: 'static', code: '2xx' }), 50);
  assert.equal(sample(fams, 'forkfast_http_request_duration_seconds_count', { route: 'fcgi', code: '2xx' }), sent);
  assert.equal(sample(fams, 'forkfast_http_request_duration_seconds_bucket', { route: 'fcgi', code: '2xx', le: '+Inf' }), sent);
  assert.equal(sample(fams, 'forkfast_pool_accepted_requests_total'), sent);
  assert.equal(sample(fams, 'forkfast_pool_workers', { state: 'idle' }), 2);
  const types = Object.fromEntries(fams.map((f) => [f.name, f.type]));
  assert.equal(types['forkfast_http_requests'], 'counter');
  assert.equal(types['forkfast_http_request_duration_seconds'], 'histogram');
  assert.equal(types['forkfast_pool_workers'], 'gauge');
  assert.equal(types['forkfast_pool_worker_exits'], 'counter');
});

test('a busy worker shows its script and URI; the page exists as HTML, text and OpenMetrics', { timeout: 60_000 }, async (t) => {
  const s = await start();
  const busy = get(`${s.url}/fcgi-bin/wait.mjs?ms=3000&who=me`);
  type Status = { processes: Array<Record<string, unknown>>; 'active processes': number };
  const read = async (): Promise<Status> => JSON.parse((await get(`${s.url}/-/status?full`)).body) as Status;
  const runningOf = (st: Status): Array<Record<string, unknown>> => st.processes.filter((p) => p['state'] === 'Running');
  let status = await read();
  for (const deadline = Date.now() + 5000; runningOf(status).length === 0 && Date.now() < deadline; status = await read()) await new Promise((r) => setTimeout(r, 50));
  const running = runningOf(status);
  assert.equal(running.length, 1, JSON.stringify(status.processes));
  assert.equal(running[0]!['request uri'], '/fcgi-bin/wait.mjs?ms=3000&who=me');
  assert.equal(running[0]!['request method'], 'GET');
  assert.match(String(running[0]!['script']), /wait\.mjs$/);
  assert.equal(status['active processes'], 1);
  await new Promise((r) => setTimeout(r, 300));
  const later = runningOf(await read());
  assert.equal(later[0]?.['pid'], running[0]!['pid']);
  assert.ok(Number(later[0]!['request duration']) - Number(running[0]!['request duration']) >= 250_000, 'request duration is in microseconds and counting');
  assert.equal((await busy).status, 200);

  const page = await get(`${s.url}/-/status?full`, { accept: 'text/html' });
  assert.match(page.type, /text\/html/);
  assert.match(page.body, /<meta http-equiv="refresh"/);
  assert.match(page.body, /wait\.mjs/);
  const text = await get(`${s.url}/-/status?text`);
  assert.match(text.body, /^pool: +forkfast$/m);
  assert.match(text.body, /^accepted conn: +1$/m);
  const ping = await get(`${s.url}/-/ping`);
  assert.equal(ping.body, 'pong\n');
  const missing = parserMissing();
  if (missing !== null) return t.skip(missing);
  const om = await get(`${s.url}/-/status?openmetrics&full`);
  assert.match(om.type, /application\/openmetrics-text/);
  const fams = parseMetrics(om.body, 'openmetrics');
  assert.equal(sample(fams, 'forkfast_pool_accepted_connections_total'), 1);
});

test('max children reached counts the rejections the test caused', { timeout: 60_000 }, async () => {
  const s = await start(['--max-children', '1', '--queue-size', '0']);
  const answers = await Promise.all(Array.from({ length: 6 }, () => get(`${s.url}/cgi-bin/nap.cgi`)));
  const refused = answers.filter((a) => a.status === 503).length;
  assert.ok(refused >= 1 && answers.some((a) => a.status === 200), `statuses: ${answers.map((a) => a.status).join(',')}`);
  const status = JSON.parse((await get(`${s.url}/-/status`)).body) as Record<string, unknown> & { cgi: Record<string, number> };
  assert.equal(status['max children reached'], refused);
  assert.equal(status.cgi['refused'], refused);
  assert.equal(status.cgi['children spawned'], 6 - refused);
});

test('a client outside --status-allow gets 403 and nothing else; --status off removes the pages', { timeout: 30_000 }, async () => {
  const s = await start(['--status-allow', '10.0.0.0/8']);
  for (const path of ['/-/status', '/-/status?full', '/-/metrics', '/-/ping']) {
    const r = await get(`${s.url}${path}`);
    assert.equal(r.status, 403, path);
    assert.equal(r.body, '', path);
  }
  const off = await start(['--status', 'off']);
  assert.equal((await get(`${off.url}/-/status`)).status, 404);
  assert.equal((await get(`${off.url}/fcgi-bin/hello.mjs`)).status, 200);
});
