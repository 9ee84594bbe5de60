// `forkfast config serve|pool`: the effective configuration with each value's source; --check lists every problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/server.js';

const T = { timeout: 30_000 };

interface Printed {
  configFile: string | null;
  options: Array<{ option: string; value: unknown; source: string; from: string }>;
  problems: string[];
}

function configFile(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ff-config-'));
  const file = join(dir, 'forkfast.json');
  writeFileSync(file, content);
  return file;
}

test('config serve prints every value and where it came from: flag, variable, file, default', T, async () => {
  const file = configFile(JSON.stringify({ 'log-level': 'warn', maxBodySize: '1m', workers: 3 }, null, 2));
  const r = await runCli(['config', 'serve', '--config', file, '--listen', '127.0.0.1:8181', '--json'], { env: { FORKFAST_WORKERS: '5', FORKFAST_LOG_LEVEL: undefined } });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Printed;
  const row = (name: string): Printed['options'][number] => out.options.find((o) => o.option === name)!;
  assert.equal(out.configFile, file);
  assert.deepEqual(row('listen'), { option: 'listen', value: '127.0.0.1:8181', source: 'flag', from: '--listen' });
  assert.deepEqual(row('workers'), { option: 'workers', value: '5', source: 'env', from: 'FORKFAST_WORKERS' });
  assert.deepEqual(row('log-level'), { option: 'log-level', value: 'warn', source: 'file', from: file });
  assert.equal(row('max-body-size').source, 'file');
  assert.deepEqual(row('keep-alive-timeout'), { option: 'keep-alive-timeout', value: '5', source: 'default', from: 'default' });
  assert.deepEqual(out.problems, []);

  // The text form: one line per option, the source at the end.
  const text = await runCli(['config', 'serve', '--config', file, '--listen', '127.0.0.1:8181'], { env: { FORKFAST_WORKERS: '5', FORKFAST_LOG_LEVEL: undefined } });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^listen\s+127\.0\.0\.1:8181\s+# flag --listen$/m);
  assert.match(text.stdout, /^workers\s+5\s+# env FORKFAST_WORKERS$/m);
  assert.match(text.stdout, new RegExp(`^log-level\\s+warn\\s+# file ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
  assert.match(text.stdout, /^keep-alive-timeout\s+5\s+# default$/m);
});

test('config pool --check: exit 0 when valid', T, async () => {
  const r = await runCli(['config', 'pool', '--check', '--listen', '127.0.0.1:9100']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'forkfast config pool: ok\n');
  assert.equal(r.stderr, '');
});

test('config serve --check lists every problem (not only the first) and exits 2', T, async () => {
  const file = configFile(JSON.stringify({ queueSize: 'many' }));
  const r = await runCli(['config', 'serve', '--check', '--config', file, '--workers', '0', '--access-log', 'xml', '--upstream', 'unix:'], { env: { FORKFAST_CGI_TIMEOUT: 'soon' } });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 5, r.stderr);
  assert.ok(lines.every((l) => l.startsWith('forkfast: ')), r.stderr);
  assert.match(r.stderr, /invalid worker count: 0/);
  assert.match(r.stderr, /invalid access log format "xml"/);
  assert.match(r.stderr, /invalid --upstream "unix:"/);
  assert.match(r.stderr, /FORKFAST_CGI_TIMEOUT: invalid cgi timeout: "soon"/);
  assert.match(r.stderr, new RegExp(`config file ${file}: "queueSize": invalid queue size: "many"`));
});

test('a config file with an unknown key, a wrong type or bad JSON: the key or the line is named', T, async () => {
  const unknown = configFile('{\n  "listen": "127.0.0.1:8080",\n  "wokers": 4,\n  "max-bdy-size": "1m"\n}\n');
  const u = await runCli(['config', 'serve', '--check', '--config', unknown]);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /config file .*forkfast\.json: unknown option "wokers"/);
  assert.match(u.stderr, /unknown option "max-bdy-size"/);
  assert.equal(u.stderr.trim().split('\n').length, 2);

  const types = configFile(JSON.stringify({ workers: { n: 4 }, 'pass-authorization': 'yes', upstream: [9000], listen: null }));
  const t = await runCli(['config', 'serve', '--check', '--config', types]);
  assert.equal(t.code, 2);
  assert.match(t.stderr, /"workers" must be a string or a number, not an object/);
  assert.match(t.stderr, /"pass-authorization" must be true or false, not a string/);
  assert.match(t.stderr, /"upstream" must be an array of strings, not an array/);
  assert.match(t.stderr, /"listen" must be a string or a number, not null/);

  const bad = configFile('{\n  "listen": "127.0.0.1:8080",\n  "workers": 4,,\n  "cgi-bin": "cgi-bin"\n}\n');
  const b = await runCli(['config', 'serve', '--check', '--config', bad]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /config file .*forkfast\.json: invalid JSON at line 3, column \d+/);

  // The same problems stop `serve` itself, in one line.
  const s = await runCli(['serve', '--config', bad]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /invalid JSON at line 3/);
  assert.equal(s.stderr.trim().split('\n').length, 1);
});

test('config with an unknown command or flag exits 2', T, async () => {
  const r = await runCli(['config', 'serve', '--no-such-flag']);
  assert.equal(r.code, 2);
  const c = await runCli(['config', 'nope']);
  assert.equal(c.code, 2);
});
