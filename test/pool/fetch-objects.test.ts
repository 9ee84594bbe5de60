// --fetch-objects light|standard through a real pool: the same handlers answer the same bytes either way.
//
// The light Response (app/light-response) is on by default in resident workers; `standard` keeps
// the platform's. Handler fixtures are test/fixtures/cgi-bin/light-*.mjs, copied into the pool's
// cgi-bin; requests are FastCGI (spec §5.1 FCGI_RESPONDER) from the tests' own client, and the
// streaming case from the repo's client (src/fastcgi/client), whose stdout is a stream.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { createFastcgiClient } from '../../src/fastcgi/client.js';
import { fcgiRequest, type FcgiResult } from './fcgi-client.js';
import { killAllPools, PoolProcess, scriptParams, startPoolWithFixtures } from './harness.js';
import { runCli } from '../helpers/server.js';

after(killAllPools);



function ask(pool: PoolProcess, name: string, query = '', method = 'GET'): Promise<FcgiResult> {
  return fcgiRequest(pool.address, { ...scriptParams(pool.cgiBin, name, query), REQUEST_METHOD: method });
}

/** The CGI header block as lines (RFC 3875 §6), and the body. */
function split(r: FcgiResult): { head: string[]; body: string } {
  const at = r.stdout.indexOf('\r\n\r\n');
  assert.ok(at >= 0, r.stdout);
  return { head: r.stdout.slice(0, at).split('\r\n'), body: r.stdout.slice(at + 4) };
}

function field(head: string[], name: string): string | undefined {
  const line = head.find((l) => l.toLowerCase().startsWith(name + ':'));
  return line?.slice(name.length + 1).trim();
}

test('light by default, the platform Response with --fetch-objects standard; same answers from both', { timeout: 60_000 }, async () => {
  const [light, standard] = await Promise.all([startPoolWithFixtures('light-', []), startPoolWithFixtures('light-', ['--fetch-objects', 'standard'])]);
  try {
    // The observable difference: the class behind the global Response.
    assert.equal((await ask(light, 'light-kind.mjs')).body, 'LightResponse\n');
    assert.equal((await ask(standard, 'light-kind.mjs')).body, 'Response\n');

    for (const name of ['light-text.mjs', 'light-json.mjs', 'light-bytes.mjs', 'light-read.mjs', 'light-instanceof.mjs', 'light-stream.mjs']) {
      const [l, s] = [await ask(light, name), await ask(standard, name)];
      assert.equal(l.stdout, s.stdout, `${name}: light and standard answer the same bytes`);
      assert.equal(l.appStatus, 0, name);
      assert.equal(l.protocolStatus, 0, name);
      assert.equal(l.stderr, '', name);
    }

    const text = split(await ask(light, 'light-text.mjs'));
    assert.equal(text.head[0], 'Status: 201 Made');
    assert.equal(text.body, 'h\u00e9llo light \u2713\n');
    assert.equal(field(text.head, 'content-length'), String(Buffer.byteLength(text.body)), 'Content-Length in bytes, not characters');
    assert.equal(field(text.head, 'content-type'), 'text/plain;charset=UTF-8');
    assert.equal(field(text.head, 'set-cookie'), 'a=1');

    const json = split(await ask(light, 'light-json.mjs'));
    assert.equal(json.head[0], 'Status: 202');
    assert.equal(field(json.head, 'content-type'), 'application/json');
    assert.deepEqual(JSON.parse(json.body), { ok: true, list: [1, 'two', null], text: 'caf\u00e9' });

    const bytes = split(await ask(light, 'light-bytes.mjs'));
    assert.equal(bytes.body, 'bytes as built\n', 'the body was copied when the Response was built');
    assert.equal(field(bytes.head, 'x-added-late'), 'yes', 'headers set after construction are written');

    const read = JSON.parse(split(await ask(light, 'light-read.mjs')).body) as Record<string, unknown>;
    assert.deepEqual(read, {
      text: 'x', json: { a: [1, 2] }, bytes: [1, 2, 3], both: 'cloned+cloned', bodyUsed: true, second: 'TypeError', blobType: 'text/x-blob', blobText: 'blob',
    });

    const kinds = JSON.parse(split(await ask(light, 'light-instanceof.mjs')).body) as Record<string, { instanceOf: boolean; tag: string; status: number; type: string }> & { badStatusIsRangeError: boolean };
    for (const name of ['constructed', 'json', 'error', 'redirect', 'stream', 'clone', 'dataUrl']) {
      assert.equal(kinds[name]?.instanceOf, true, `${name} instanceof Response`);
      assert.equal(kinds[name]?.tag, '[object Response]', name);
    }
    assert.equal(kinds['error']?.type, 'error');
    assert.equal(kinds['redirect']?.status, 301);
    assert.equal(kinds.badStatusIsRangeError, true);

    // HEAD: no body from either; the light writer also says how long the GET body is.
    for (const pool of [light, standard]) {
      const head = split(await ask(pool, 'light-text.mjs', '', 'HEAD'));
      assert.equal(head.body, '');
      assert.equal(head.head[0], 'Status: 201 Made');
    }
    assert.equal(field(split(await ask(light, 'light-text.mjs', '', 'HEAD')).head, 'content-length'), String(Buffer.byteLength('h\u00e9llo light \u2713\n')));
  } finally {
    await Promise.all([light.close(), standard.close()]);
  }
});

test('a streaming body streams with light and with standard Responses', { timeout: 60_000 }, async () => {
  const log = pino({ level: 'silent' });
  for (const extra of [[], ['--fetch-objects', 'standard']]) {
    const pool = await startPoolWithFixtures('light-', extra);
    const client = createFastcgiClient({ upstreams: [`unix:${(pool.address as { path: string }).path}`], log });
    try {
      const gate = join(pool.dir, 'gate');
      const res = await client.request({ params: { REQUEST_METHOD: 'GET', ...scriptParams(pool.cgiBin, 'light-stream.mjs', 'gate=' + encodeURIComponent(gate)) }, body: null });
      let got = '';
      let opened = false;
      for await (const chunk of res.stdout) {
        got += (chunk as Buffer).toString();
        // The last piece waits for the gate: seeing the first two before it exists proves the
        // head and body left the worker while the handler was still producing.
        if (!opened && got.endsWith('one\ntwo\n')) {
          assert.doesNotMatch(got, /three/);
          writeFileSync(gate, '');
          opened = true;
        }
      }
      assert.ok(opened, `${extra.join(' ') || 'default'}: the first pieces came before the last was made: ${got}`);
      const [head, body] = got.split('\r\n\r\n');
      assert.equal(body, 'one\ntwo\nthree\n');
      assert.doesNotMatch(head!, /content-length/i, 'a streamed body has no Content-Length');
      assert.match(head!, /^Status: 200\r\n/);
      assert.equal((await res.ended).appStatus, 0);
    } finally {
      await client.close();
      await pool.close();
    }
  }
});

test('--fetch-objects with a bad value exits 2 with a one-line usage error', { timeout: 30_000 }, async () => {
  const runs = [
    await runCli(['pool', '--fetch-objects', 'bogus', '--listen', '127.0.0.1:0']),
    await runCli(['serve', '--fetch-objects', 'bogus', '--listen', '127.0.0.1:0']),
    await runCli(['pool', '--listen', '127.0.0.1:0'], { env: { FORKFAST_FETCH_OBJECTS: 'bogus' } }),
  ];
  for (const r of runs) {
    assert.equal(r.code, 2, r.stderr + r.stdout);
    assert.match(r.stderr, /invalid fetch objects "bogus" \(expected one of light, standard\)/);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
});
