// /cgi-bin/ through the real `forkfast serve` process: wiring, environment isolation, logs, child cleanup.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, repoRoot, type RunningServer } from '../helpers/server.js';
import { fetchRaw, parseEnv, alive, eventually } from './harness.js';

let s: RunningServer;
let wired = false;
before(async () => {
  s = await startServer(['--cgi-bin', repoRoot + 'test/fixtures/cgi-bin', '--cgi-idle-timeout', '2', '--pass-env', 'FORKFAST_PASSED=yes', '--pass-env', 'SCRIPT_NAME=/forged'], { env: { FORKFAST_CANARY_SECRET: 'server-only' } });
  wired = (await fetchRaw(s.port, '/cgi-bin/test.cgi?pid')).status === 200;
});
after(async () => {
  await s.stop();
});

const T = { timeout: 20_000 };

test('cli: /cgi-bin/ runs a program; the child sees only meta-variables and PATH', T, async (t) => {
  if (!wired) return t.skip('the /cgi-bin/ mount is not wired into `forkfast serve` yet (src/mounts.ts)');
  const r = await fetchRaw(s.port, '/cgi-bin/test.cgi/p?q=1');
  assert.equal(r.status, 200);
  const env = parseEnv(r.text);
  assert.equal(env['QUERY_STRING'], 'q=1');
  assert.equal(env['PATH_INFO'], '/p');
  assert.equal(env['FORKFAST_CANARY_SECRET'], undefined);
  assert.equal(env['NODE_EXTRA_CA_CERTS'], undefined);
  assert.ok(env['PATH']);
  // Go TestEnvOverride, made safe: the operator adds variables but cannot forge meta-variables.
  assert.equal(env['FORKFAST_PASSED'], 'yes');
  assert.equal(env['SCRIPT_NAME'], '/cgi-bin/test.cgi');
});

test('cli: handler modules run through the compiled CGI runner', T, async (t) => {
  if (!wired) return t.skip('the /cgi-bin/ mount is not wired into `forkfast serve` yet (src/mounts.ts)');
  const r = await fetchRaw(s.port, '/cgi-bin/mod.mjs/x');
  assert.equal(r.status, 200);
  assert.equal((JSON.parse(r.text) as { pathInfo: string }).pathInfo, '/x');
});

test('cli: stderr and malformed output reach the server log with the request id; the access log says cgi', T, async (t) => {
  if (!wired) return t.skip('the /cgi-bin/ mount is not wired into `forkfast serve` yet (src/mounts.ts)');
  const r = await fetchRaw(s.port, '/cgi-bin/test.cgi?stderr');
  const id = r.headers['x-request-id'];
  await s.waitForLog((l) => l['reqId'] === id && l['line'] === 'second line');
  await s.waitForLog((l) => l['reqId'] === id && l['msg'] === 'request' && l['route'] === 'cgi');
  const bad = await fetchRaw(s.port, '/cgi-bin/test.cgi?bad-no-colon');
  assert.equal(bad.status, 502);
  await s.waitForLog((l) => l['reqId'] === bad.headers['x-request-id'] && l['msg'] === 'malformed script response' && l['script'] === '/cgi-bin/test.cgi');
});

test('cli: an idle child is killed and reaped (no zombie, no orphan)', T, async (t) => {
  if (!wired) return t.skip('the /cgi-bin/ mount is not wired into `forkfast serve` yet (src/mounts.ts)');
  const r = await fetchRaw(s.port, '/cgi-bin/test.cgi?hang-before');
  assert.equal(r.status, 504);
  const line = await s.waitForLog((l) => l['reqId'] === r.headers['x-request-id'] && String(l['line']).startsWith('pid='));
  const pid = Number(String(line['line']).slice(4));
  assert.ok(await eventually(() => !alive(pid), 5000), `pid ${pid} still alive`);
});
