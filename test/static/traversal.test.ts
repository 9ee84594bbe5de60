// Path safety of the static mount: every traversal form, dotfiles and symlinks, over raw sockets.
// A secret file sits just outside the served root; no request may ever return its bytes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger, silentLogger } from '../../src/log.js';
import { checkPath } from '../../src/static/safe-path.js';
import { createStaticMount } from '../../src/static/serve.js';
import { makeTree, request, SECRET, serve, type Running, type Tree } from './harness.js';

describe('checkPath (lexical, decode once, fail closed)', () => {
  const refusals: [string, string][] = [
    ['/../secret.txt', 'traversal'],
    ['/a/../../secret.txt', 'traversal'],
    ['/./hello.txt', 'traversal'],
    ['/%2e%2e/secret.txt', 'traversal'],
    ['/%2E%2E/secret.txt', 'traversal'],
    ['/.%2e/secret.txt', 'traversal'],
    ['/%252e%252e/secret.txt', 'traversal'],
    ['/..%2fsecret.txt', 'traversal'],
    ['/..%2Fsecret.txt', 'traversal'],
    ['/..%5csecret.txt', 'traversal'],
    ['/..\\secret.txt', 'traversal'],
    ['/\\..\\secret.txt', 'traversal'],
    ['/hello.txt%00.png', 'traversal'],
    ['/%2fetc/passwd', 'traversal'],
    ['/%25%32%65', 'traversal'],
    ['/%', 'bad-encoding'],
    ['/%c0%ae%c0%ae/secret.txt', 'bad-encoding'],
    ['secret.txt', 'bad-encoding'],
    ['*', 'bad-encoding'],
    ['http://evil/secret.txt', 'bad-encoding'],
    ['/.env', 'dotfile'],
    ['/%2eenv', 'dotfile'],
    ['/.git/config', 'dotfile'],
    ['/sub/.hidden', 'dotfile'],
  ];
  for (const [raw, reason] of refusals) {
    test(`refuses ${raw} (${reason})`, () => {
      assert.deepEqual(checkPath(raw), { ok: false, reason });
    });
  }

  test('accepts ordinary paths, decodes once, collapses empty segments', () => {
    assert.deepEqual(checkPath('/'), { ok: true, segments: [], trailingSlash: true, key: '' });
    assert.deepEqual(checkPath('/a//b/'), { ok: true, segments: ['a', 'b'], trailingSlash: true, key: 'a/b/' });
    assert.deepEqual(checkPath('/with%20space/f.txt'), { ok: true, segments: ['with space', 'f.txt'], trailingSlash: false, key: 'with space/f.txt' });
    assert.deepEqual(checkPath('/100%25'), { ok: true, segments: ['100%'], trailingSlash: false, key: '100%' });
    assert.deepEqual(checkPath('/a..b/c.d'), { ok: true, segments: ['a..b', 'c.d'], trailingSlash: false, key: 'a..b/c.d' });
  });
});

describe('static mount refuses every way out of the root', { timeout: 20_000 }, () => {
  let tree: Tree;
  let srv: Running;
  before(async () => {
    tree = makeTree();
    srv = await serve(createStaticMount({ root: tree.root, log: silentLogger() }));
  });
  after(async () => {
    await srv?.close();
    tree?.remove();
  });

  const attacks = [
    '/../secret.txt',
    '/../../secret.txt',
    '/sub/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/%252e%252e/secret.txt',
    '/%252e%252e%252fsecret.txt',
    '/..%2fsecret.txt',
    '/..%5csecret.txt',
    '/..\\secret.txt',
    '/\\..\\secret.txt',
    '/%5c..%5csecret.txt',
    '/..%00/secret.txt',
    '/secret.txt%00',
    '/%c0%ae%c0%ae/secret.txt',
    '/.env',
    '/%2eenv',
    '/.hidden/file.txt',
    '/link-out.txt',
    '/linkdir-out/',
    '/linkdir-out/index.html',
    '/link-dot.txt',
    '//../secret.txt',
  ];
  for (const target of attacks) {
    test(`never returns the secret for ${target}`, async () => {
      const r = await request(srv.port, 'GET', target);
      assert.ok(!r.raw.includes(SECRET), `secret leaked for ${target}`);
      assert.ok([400, 404].includes(r.status), `${target}: status ${r.status}`);
    });
  }

  test('a raw NUL in the request line is rejected before it reaches us', async () => {
    const r = await request(srv.port, 'GET', '/secret.txt\0');
    assert.ok(!r.raw.includes(SECRET));
    assert.equal(r.status, 400);
  });

  test('status per refusal: climbing is 400, hidden and symlinked-out files are 404', async () => {
    assert.equal((await request(srv.port, 'GET', '/%2e%2e/secret.txt')).status, 400);
    assert.equal((await request(srv.port, 'GET', '/.env')).status, 404);
    assert.equal((await request(srv.port, 'GET', '/link-out.txt')).status, 404);
  });

  test('a symlink inside the root is served', async () => {
    const r = await request(srv.port, 'GET', '/link-in.txt');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello, static world\n');
  });
});

test('a refused path is one structured warn line with the reason, not a crash', { timeout: 10_000 }, async () => {
  const tree = makeTree();
  const out = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  out.on('data', (c: Buffer) => {
    for (const l of c.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  const log = createLogger({ level: 'info', destination: out });
  const srv = await serve(createStaticMount({ root: tree.root, log }), log);
  try {
    assert.equal((await request(srv.port, 'GET', '/%2e%2e/secret.txt')).status, 400);
    assert.equal((await request(srv.port, 'GET', '/link-out.txt')).status, 404);
    await new Promise((r) => setImmediate(r));
    const refused = lines.filter((l) => l.msg === 'static path refused');
    assert.deepEqual(refused.map((l) => [l.level, l.reason, l.path]), [
      [40, 'traversal', '/%2e%2e/secret.txt'],
      [40, 'outside-root', '/link-out.txt'],
    ]);
  } finally {
    await srv.close();
    tree.remove();
  }
});
