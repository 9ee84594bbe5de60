// A set of things in use right now (connections, children, pending requests) that does not keep
// finished ones alive: an array with swap-remove instead of a JS Set.
//
// Why not a Set: V8's Map and Set are ordered hash tables. Adding and deleting entries all the
// time makes V8 rehash the table into a new one; once a long-lived table sits in old space (any
// full GC promotes it), every new table is allocated in old space too, and each dead table still
// points at the entries it held. Those pointers are old-to-new references, so every scavenge keeps
// the entries alive and promotes them: each request's whole object graph then lives until the
// next full GC. Measured in the front under /fcgi-bin/ load: ~2.2 MB surviving every scavenge
// after the first full GC, against ~0.1 MB with arrays (docs/performance.md, session 3).
//
// Deleting is O(n) (indexOf) and reorders the items; n is the number of things in use, small.

export class LiveSet<T> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  add(item: T): void {
    if (!this.items.includes(item)) this.items.push(item);
  }

  has(item: T): boolean {
    return this.items.includes(item);
  }

  delete(item: T): boolean {
    const items = this.items;
    const i = items.indexOf(item);
    if (i < 0) return false;
    const last = items.pop()!;
    if (i < items.length) items[i] = last;
    return true;
  }

  clear(): void {
    this.items.length = 0;
  }

  /** A snapshot: the loop body may add or delete items. */
  [Symbol.iterator](): IterableIterator<T> {
    return this.items.slice()[Symbol.iterator]();
  }
}
