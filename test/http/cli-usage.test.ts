// Bad usage of `serve` and `pool`: every option's bad value exits 2 with one line; --help shows defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { runCli } from '../helpers/server.js';

const T = { timeout: 60_000 };

function oneLine(s: string, what: string): void {
  assert.equal(s.trim().split('\n').length, 1, `${what}: expected one line, got: ${s}`);
}

/** Each case: the arguments, and what the one line must say (the option or the value at fault). */
const SERVE_CASES: Array<[string[], RegExp]> = [
  [['--upstream', 'nonsense'], /invalid --upstream "nonsense"/],
  [['--upstream', '127.0.0.1:99999'], /invalid port in --upstream "127\.0\.0\.1:99999": 99999/],
  [['--upstream', '127.0.0.1:0'], /invalid port in --upstream/],
  [['--upstream', 'unix:'], /invalid --upstream "unix:" \(unix: needs a socket path\)/],
  [['--upstream', 'bad host:9000'], /invalid --upstream "bad host:9000"/],
  [['--fastcgi', '/php/=unix:', '--docroot', '.'], /invalid --fastcgi upstream "unix:"/],
  [['--fastcgi', '/php/=nonsense', '--docroot', '.'], /invalid --fastcgi upstream "nonsense"/],
  [['--fastcgi', '/php/=', '--docroot', '.'], /no upstream address/],
  [['--fastcgi', 'php=127.0.0.1:9000', '--docroot', '.'], /invalid --fastcgi "php=127\.0\.0\.1:9000"/],
  [['--fastcgi', '/php/=127.0.0.1:9000'], /--fastcgi needs --docroot/],
  [['--listen', 'unix:'], /invalid listen address "unix:"/],
  [['--listen', '70000'], /invalid port/],
  [['--listen', 'bad host:80'], /invalid listen address/],
  [['--workers', '0'], /invalid worker count: 0/],
  [['--workers', 'two'], /invalid worker count: "two"/],
  [['--queue-size', '-1'], /invalid queue size/],
  [['--max-body-size', '1e9'], /invalid max body size/],
  [['--max-body-size', '99999999999999999999g'], /invalid max body size/],
  [['--cgi-timeout', '99999999999'], /invalid cgi timeout: 99999999999 \(expected at most \d+ seconds\)/],
  [['--keep-alive-timeout', '-5'], /invalid keep-alive timeout/],
  [['--spawn-backend', 'fork'], /invalid spawn backend "fork"/],
  [['--fetch-objects', 'heavy'], /invalid fetch objects "heavy"/],
  [['--log-level', 'loud'], /invalid log level "loud"/],
  [['--access-log', 'xml'], /invalid access log format "xml" \(expected one of json, combined, off\)/],
  [['--log-file', '/no/such/dir/ff.log'], /invalid --log-file: \/no\/such\/dir\/ff\.log/],
  [['--access-log-file', '.'], /invalid --access-log-file/],
  [['--pass-env', '1BAD'], /invalid --pass-env name "1BAD"/],
  [['--workers'], /argument missing/],
];

test('serve: every bad option value exits 2 with one line naming it', T, async () => {
  // Four at a time: each case is a Node start-up.
  const results: Array<Awaited<ReturnType<typeof runCli>>> = [];
  for (let i = 0; i < SERVE_CASES.length; i += 4) results.push(...(await Promise.all(SERVE_CASES.slice(i, i + 4).map(([args]) => runCli(['serve', ...args])))));
  for (const [i, [args, expected]] of SERVE_CASES.entries()) {
    const r = results[i]!;
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, /^forkfast: /, args.join(' '));
    assert.match(r.stderr, expected, args.join(' '));
    assert.doesNotMatch(r.stderr, /RangeError|\n\s+at /, args.join(' '));
    oneLine(r.stderr, args.join(' '));
  }
});

test('pool: bad option values exit 2 with one line', T, async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--listen', 'unix:'], /invalid listen address "unix:"/],
    [['--workers', 'x'], /invalid worker count/],
    [['--pid', '/no/such/dir/ff.pid'], /invalid --pid/],
    [['--log-file', '/no/such/dir/ff.log'], /invalid --log-file/],
  ];
  for (const [args, expected] of cases) {
    const r = await runCli(['pool', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, expected);
    oneLine(r.stderr, args.join(' '));
  }
});

test('a bad value from a FORKFAST_* variable names the variable', T, async () => {
  const r = await runCli(['serve'], { env: { FORKFAST_WORKERS: 'abc' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /FORKFAST_WORKERS: invalid worker count: "abc"/);
  oneLine(r.stderr, 'FORKFAST_WORKERS');
});

test('several bad values: still one line, naming the first and counting the rest', T, async () => {
  const r = await runCli(['serve', '--workers', '0', '--access-log', 'xml', '--upstream', 'nonsense']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\(and 2 more: forkfast config serve --check lists them\)/);
  oneLine(r.stderr, 'several');
});

test('serve --help and pool --help show the defaults', T, async () => {
  const serve = await runCli(['serve', '--help']);
  assert.equal(serve.code, 0);
  const flat = serve.stdout.replace(/\s+/g, ' ');
  assert.match(flat, /--listen <addr> .*\(default: 127\.0\.0\.1:8080\)/);
  assert.match(flat, /--workers <n> .*\(default: number of CPUs, here \d+\)/);
  assert.match(flat, /--max-body-size <bytes> .*\(default: 100m\)/);
  assert.match(flat, /--access-log <format> .*\(default: json\)/);
  const pool = await runCli(['pool', '--help']);
  assert.equal(pool.code, 0);
  const poolFlat = pool.stdout.replace(/\s+/g, ' ');
  assert.match(poolFlat, /--listen <addr> .*\(default: 127\.0\.0\.1:9000\)/);
  assert.match(poolFlat, /--shutdown-timeout <s> .*\(default: 10\)/);
});

test('pool on a TCP port in use: one clear line on stderr, nothing else, exit 1', T, async (t) => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => holder.close());
  const port = (holder.address() as net.AddressInfo).port;
  const r = await runCli(['pool', '--listen', `127.0.0.1:${port}`, '--workers', '2', '--cgi-bin', 'cgi-bin'], { timeoutMs: 20_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, `forkfast: cannot listen on 127.0.0.1:${port}: address already in use\n`);
  assert.equal(r.stdout, '', 'no log line before the fatal one');
});
