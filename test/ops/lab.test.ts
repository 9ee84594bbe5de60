// The lab without a browser: who may use it, the trace it returns for one request, the race's bounds, sample rules.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labAllow } from '../../src/ops/lab-allow.js';
import { enoughSamples, liveLatency } from '../../src/bench/stats.js';
import { startServer } from '../helpers/server.js';

test('labAllow: loopback always, --lab-allow addresses and CIDRs, nothing else', () => {
  const only = labAllow([]);
  assert.ok(only('127.0.0.1'));
  assert.ok(only('::1'));
  assert.ok(only('::ffff:127.0.0.1'));
  assert.ok(!only('192.168.1.20'));
  assert.ok(!only('::ffff:10.0.0.1'));
  const room = labAllow(['192.168.1.0/24', '10.9.9.9', 'fd00::/8']);
  assert.ok(room('192.168.1.20'));
  assert.ok(room('::ffff:192.168.1.20'));
  assert.ok(!room('192.168.2.20'));
  assert.ok(room('10.9.9.9'));
  assert.ok(!room('10.9.9.8'));
  assert.ok(room('fd12::1'));
  assert.throws(() => labAllow(['not-an-address']), /invalid --lab-allow/);
  assert.throws(() => labAllow(['10.0.0.0/33']), /prefix length/);
});

test('a percentile is shown only with ten samples beyond it', () => {
  assert.ok(!enoughSamples(19, 50));
  assert.ok(enoughSamples(20, 50));
  assert.ok(!enoughSamples(99, 90));
  assert.ok(enoughSamples(100, 90));
  assert.ok(!enoughSamples(999, 99));
  assert.ok(!enoughSamples(30, 99.9));
  assert.ok(enoughSamples(10_000, 99.9));
  const live = liveLatency(Float64Array.from({ length: 150 }, (_, i) => i + 1));
  assert.equal(live.n, 150);
  assert.equal(live.p50, 75);
  assert.equal(live.p90, 135);
  assert.equal(live.p99, undefined);
});

test('serve: /-/lab/anatomy traces one POST through both mounts; bad input and a second race are refused', { timeout: 60_000 }, async () => {
  const server = await startServer(['--workers', '1'], { timeoutMs: 30_000 });
  try {
    const res = await fetch(`${server.url}/-/lab/anatomy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ script: 'env.sh', pathInfo: '/a/b', method: 'POST', query: 'x=1', headers: [['Content-Type', 'text/plain'], ['Cookie', 'k=v']], body: 'hello' }),
    });
    assert.equal(res.status, 200);
    const { mounts } = (await res.json()) as { mounts: Array<{ mount: string; request: string; response: string; trace: { status: number; metaVariables: Record<string, string>; records: Array<{ direction: string; type: string; contentLength: number; requestId: number }>; rawResponse: string; marks: Record<string, number>; childPid: number | null } } > };
    assert.deepEqual(mounts.map((m) => m.mount), ['/cgi-bin/', '/fcgi-bin/']);
    for (const m of mounts) {
      assert.match(m.request, /^POST \/(cgi|fcgi)-bin\/env\.sh\/a\/b\?x=1 HTTP\/1\.1\r\n/);
      assert.match(m.request, /\r\nCookie: k=v\r\n/, 'a header a browser could not send');
      assert.match(m.response, /^HTTP\/1\.1 200 /);
      const t = m.trace;
      assert.equal(t.status, 200);
      assert.equal(t.metaVariables['PATH_INFO'], '/a/b');
      assert.equal(t.metaVariables['CONTENT_LENGTH'], '5');
      assert.equal(t.metaVariables['HTTP_COOKIE'], 'k=v');
      assert.match(t.metaVariables['HTTP_X_FORKFAST_TRACE'] ?? '', /^lab-[0-9a-f]{12}$/, 'the trace field is a request header like any other');
      assert.match(t.rawResponse, /^Content-Type: text\/plain/im);
      assert.ok(t.marks['finished']! > 0);
    }
    assert.ok(mounts[0]!.trace.childPid! > 0, 'the fork names its child');
    assert.ok(mounts[0]!.trace.marks['spawned']! <= mounts[0]!.trace.marks['finished']!);
    const records = mounts[1]!.trace.records;
    const seq = records.map((r) => `${r.direction[0]}:${r.type}:${r.contentLength === 0 ? 0 : 'n'}`);
    assert.deepEqual(seq.slice(0, 5), ['s:BEGIN_REQUEST:n', 's:PARAMS:n', 's:PARAMS:0', 's:STDIN:n', 's:STDIN:0']);
    assert.equal(seq.at(-1), 'r:END_REQUEST:n');
    assert.ok(seq.includes('r:STDOUT:n'));
    assert.equal(new Set(records.map((r) => r.requestId)).size, 1, 'one request id throughout');
    assert.equal(records.find((r) => r.type === 'STDIN' && r.contentLength > 0)!.contentLength, 5);

    const bad = await fetch(`${server.url}/-/lab/anatomy`, { method: 'POST', body: JSON.stringify({ script: '../etc/passwd' }) });
    assert.equal(bad.status, 400);
    const crlf = await fetch(`${server.url}/-/lab/anatomy`, { method: 'POST', body: JSON.stringify({ script: 'env.sh', headers: [['X-A', 'b\r\nX-Injected: 1']] }) });
    assert.equal(crlf.status, 400);
    const kill = await fetch(`${server.url}/-/lab/pool/kill?pid=1`, { method: 'POST' });
    assert.equal(kill.status, 400, 'only a worker of this pool');

    // A plain request with the trace field costs nothing visible: answered as usual.
    const plain = await fetch(`${server.url}/fcgi-bin/hello.sh`, { headers: { 'x-forkfast-trace': 'not valid!' } });
    assert.equal(plain.status, 200);
    await plain.text();

    const first = await fetch(`${server.url}/-/lab/race?script=hello.sh&connections=1&duration=1`);
    assert.equal(first.status, 200);
    const second = await fetch(`${server.url}/-/lab/race?script=hello.sh&connections=1&duration=1`);
    assert.equal(second.status, 409, 'one race at a time');
    await second.text();
    const events = await first.text();
    assert.match(events, /event: done\ndata: /);
    assert.equal((events.match(/event: result\n/g) ?? []).length, 2);
  } finally {
    await server.stop();
  }
});
