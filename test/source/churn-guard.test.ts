// No new Map or Set that gets entries deleted in src/ without a reason written down here.
//
// A Map or Set with an entry added and deleted per request or per connection keeps every entry it
// held at each rehash alive until the next full GC, once its table is in old space (src/live-set.ts
// says how; it cost the front ~2.2 MB of survivors per scavenge). The request paths use RequestTable
// and LiveSet instead. This test reads the sources: a collection created with `new Map`/`new Set`
// whose name is also the target of `.delete(` must be listed below, with why its churn is rare.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** file:name -> why deleting from it is fine. */
const ALLOWED: Record<string, string> = {
  'src/static/file-cache.ts:#entries': 'small-file cache keyed by path: entries go on eviction or when the file changed, not per request',
  'src/fastcgi/request-table.ts:overflow': 'only request ids past 1024, which no known web server uses',
  'src/fastcgi/server-request.ts:params': 'one Map per request, young and short-lived; HTTP_PROXY is removed once',
  'src/responder/one-shot.ts:params': 'one Map per uwsgi/SCGI request, as server-request.ts:params; HTTP_PROXY is removed once',
  'src/cgi/script.ts:memo': 'script resolutions keyed by path, dropped when stale',
  'src/pool/arbiter.ts:workers': 'one entry per worker process, replaced only when a worker exits',
  'src/pool/module.ts:handlers': 'one entry per handler module file; deleted only when its import failed',
  'src/pool/module.ts:failedAt': 'one entry per handler module file whose import failed; deleted when it imports again',
  'src/pool/watch.ts:watchers': 'one entry per watched cgi-bin directory; deleted when the directory goes away',
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Names assigned a `new Map`/`new Set` (fields, consts, lets) that are also `.delete(`d in the file. */
function churnyCollections(text: string): string[] {
  const created = new Set<string>();
  for (const m of text.matchAll(/([#\w]+)\s*(?::[^=\n]*)?(?:=|\?\?=)\s*new (?:Map|Set)\b/g)) created.add(m[1]!);
  return [...created].filter((name) => text.includes(`${name}.delete(`) || text.includes(`${name}?.delete(`));
}

test('the source scan finds a churny Map and a churny Set, and passes arrays', () => {
  assert.deepEqual(churnyCollections('const pending = new Map<number, X>();\npending.set(1, x);\npending.delete(1);'), ['pending']);
  assert.deepEqual(churnyCollections('  private readonly conns = new Set<C>();\n  f() { this.conns.delete(c); }'), ['conns']);
  assert.deepEqual(churnyCollections('  #entries = new Map();\n  g() { this.#entries.delete(k); }'), ['#entries']);
  assert.deepEqual(churnyCollections('const NAMES = new Set([1, 2]);\nconst slots: X[] = [];\nslots.pop();'), []);
});

test('no Map or Set in src/ has entries deleted unless its churn is known to be rare', () => {
  const unexpected: string[] = [];
  const seen = new Set<string>();
  for (const file of sources(join(ROOT, 'src'))) {
    const rel = relative(ROOT, file).split('\\').join('/');
    for (const name of churnyCollections(readFileSync(file, 'utf8'))) {
      const key = `${rel}:${name}`;
      seen.add(key);
      if (ALLOWED[key] === undefined) unexpected.push(key);
    }
  }
  assert.deepEqual(unexpected, [], `Maps/Sets with deletes on a possibly hot path (use RequestTable or LiveSet, or list them here with a reason): ${unexpected.join(', ')}`);
  // An entry for a collection that no longer exists is stale: keep the list true.
  const stale = Object.keys(ALLOWED).filter((k) => !seen.has(k));
  assert.deepEqual(stale, [], `allow-list entries that match nothing: ${stale.join(', ')}`);
});
