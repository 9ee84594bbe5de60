// The tables of things in flight let finished requests go at the next scavenge.
//
// A JS Map or Set that gets an entry added and deleted per request, once its storage sits in old
// space, keeps the entries of its dead hash tables reachable for the scavenger until the next
// full GC (src/live-set.ts says how). In the front under /fcgi-bin/ load that was ~2.2 MB kept
// and promoted at every scavenge. This test replays the churn of a connection with 32 requests
// in flight through each table, with the built-in collection as the control, and measures what
// the young generation keeps after a minor GC.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GCProfiler, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LiveSet } from '../../src/live-set.js';
import { RequestTable } from '../../src/fastcgi/request-table.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

interface SpaceStats {
  spaceName: string;
  spaceUsedSize: number;
}
interface GcRecord {
  gcType: string;
  beforeGC: { heapSpaceStatistics: SpaceStats[] };
  afterGC: { heapSpaceStatistics: SpaceStats[] };
}
const used = (spaces: SpaceStats[], name: string): number => spaces.find((s) => s.spaceName === name)?.spaceUsedSize ?? 0;

/** What one scavenge kept: the survivors left in new space plus what it promoted to old space. */
function keptBy(r: GcRecord): number {
  const before = r.beforeGC.heapSpaceStatistics;
  const after = r.afterGC.heapSpaceStatistics;
  return used(after, 'new_space') + used(after, 'old_space') - used(before, 'old_space');
}

interface Table {
  add(slot: number, request: object): void;
  remove(slot: number): void;
}

const IN_FLIGHT = 32;
const REQUESTS = 6400;

/** Bytes the scavenges kept, on average, while REQUESTS requests went through `table`. */
async function keptAfterChurn(make: () => Table): Promise<number> {
  const table = make();
  table.add(1, {});
  table.remove(1);
  gc();
  gc(); // the table's storage is in old space now, as a long-lived connection's is
  const profiler = new GCProfiler();
  profiler.start();
  for (let i = 0; i < IN_FLIGHT; i++) table.add(i, { request: [i] });
  for (let n = 0; n < REQUESTS; n++) {
    // The oldest request ends, a new one takes its place.
    const slot = n % IN_FLIGHT;
    table.remove(slot);
    table.add(slot, { request: new Array<number>(16).fill(n), headers: { n } });
    if (n % 64 === 63) await tick();
    if (n % 640 === 639) gc({ type: 'minor' });
  }
  const records = ((profiler.stop() as unknown as { statistics: GcRecord[] } | undefined)?.statistics ?? []).filter((r) => r.gcType === 'Scavenge');
  for (let i = 0; i < IN_FLIGHT; i++) table.remove(i);
  assert.ok(records.length >= 5, `expected the scavenges to be recorded, got ${records.length}`);
  // The first scavenges after the full GCs are the same for every table: skip them.
  const steady = records.slice(2);
  return steady.reduce((sum, r) => sum + keptBy(r), 0) / steady.length;
}

/** Warm once (compilation allocates too), then measure. */
async function measure(make: () => Table): Promise<number> {
  await keptAfterChurn(make);
  return keptAfterChurn(make);
}

function bySlot<T>(add: (o: object) => T, remove: (key: T) => void): Table {
  const keys: T[] = [];
  return {
    add: (slot, o) => {
      keys[slot] = add(o);
    },
    remove: (slot) => {
      if (keys[slot] !== undefined) remove(keys[slot]!);
    },
  };
}

function compare(t: { diagnostic(msg: string): void }, name: string, ours: number, control: number): void {
  t.diagnostic(`${name}: ${Math.round(ours / 1024)} KiB kept per scavenge, the built-in collection ${Math.round(control / 1024)} KiB`);
  // 32 requests in flight of ~250 bytes are ~8 KiB; 640 requests between scavenges ~160 KiB.
  assert.ok(ours < 64 * 1024, `${name}: each scavenge kept ${ours} bytes`);
  if (control < 2 * ours) t.diagnostic(`the built-in collection did not show the retention on this V8 (${control} bytes): nothing to compare`);
  else assert.ok(ours * 2 < control);
}

test('RequestTable (client ids, claim) keeps no finished request, where a Map with counting ids does', async (t) => {
  const control = await measure(() => {
    const m = new Map<number, object>();
    let next = 1;
    return bySlot((o) => (m.set(next, o), next++), (id) => m.delete(id));
  });
  const ours = await measure(() => {
    const r = new RequestTable<object>();
    return bySlot(
      (o) => {
        let id = 0;
        r.claim((k) => ((id = k), o));
        return id;
      },
      (id) => r.delete(id),
    );
  });
  compare(t, 'RequestTable', ours, control);
});

test('LiveSet keeps no finished request, where a Set does', async (t) => {
  const control = await measure(() => {
    const s = new Set<object>();
    return bySlot((o) => (s.add(o), o), (o) => s.delete(o));
  });
  const ours = await measure(() => {
    const s = new LiveSet<object>();
    return bySlot((o) => (s.add(o), o), (o) => s.delete(o));
  });
  compare(t, 'LiveSet', ours, control);
});

test('RequestTable: set/get/delete by the peer\'s ids, large ids, claim reuses freed ids, values() snapshots', () => {
  const r = new RequestTable<string>();
  r.set(1, 'a');
  r.set(5, 'b');
  r.set(60000, 'big');
  assert.equal(r.size, 3);
  assert.equal(r.get(5), 'b');
  assert.equal(r.get(60000), 'big');
  assert.equal(r.has(2), false);
  assert.deepEqual(r.values().sort(), ['a', 'b', 'big']);
  for (const v of r.values()) if (v === 'b') r.delete(5); // deleting while looping over values()
  assert.equal(r.delete(5), false);
  assert.equal(r.delete(60000), true);
  assert.equal(r.size, 1);
  r.clear();
  assert.equal(r.size, 0);
  assert.equal(r.get(1), undefined);

  const c = new RequestTable<{ id: number }>();
  const a = c.claim((id) => ({ id }));
  const b = c.claim((id) => ({ id }));
  assert.deepEqual([a.id, b.id], [1, 2]); // 0 is FCGI_NULL_REQUEST_ID
  c.delete(a.id);
  assert.equal(c.claim((id) => ({ id })).id, 1, 'a freed id is reused');
  assert.equal(c.claim((id) => ({ id })).id, 3);
  for (let i = 0; i < 10_000; i++) c.delete(c.claim((id) => ({ id })).id);
  assert.equal(c.claim((id) => ({ id })).id, 4, 'ids stay packed under churn');
});

test('LiveSet: add is idempotent, delete reorders, iteration is a snapshot', () => {
  const s = new LiveSet<string>();
  s.add('a');
  s.add('b');
  s.add('a');
  s.add('c');
  assert.equal(s.size, 3);
  assert.equal(s.delete('a'), true);
  assert.equal(s.delete('a'), false);
  assert.equal(s.has('b'), true);
  assert.deepEqual([...s].sort(), ['b', 'c']);
  for (const x of s) s.delete(x);
  assert.equal(s.size, 0);
  s.add('d');
  s.clear();
  assert.equal(s.size, 0);
});
