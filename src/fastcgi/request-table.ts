// The requests of one FastCGI connection by request id (FastCGI 1.0 §3.3): a slot per id.
//
// Not a Map, for the reason in src/live-set.ts: a Map with an entry added and deleted per request
// keeps every request that was in flight at each of its rehashes alive until the next full GC.
// Request ids are small and reused ("tightly packed", §3.3: nginx and Apache always send 1), so
// an array indexed by id stays as long as the peak number of requests in flight and is never
// rehashed. A peer that picks large ids gets a Map for those: no slot array of 64 Ki entries per
// connection for it. A table has its ids chosen either by the peer (set) or by itself (claim).

const MAX_SLOT = 1024;

export class RequestTable<T> {
  private readonly slots: Array<T | undefined> = [];
  private overflow: Map<number, T> | null = null;
  private count = 0;
  /** Ids freed by delete(), reused last-in first-out by claim(); kept only once claim() is used. */
  private readonly free: number[] = [];
  private claiming = false;

  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    return id < MAX_SLOT ? this.slots[id] : this.overflow?.get(id);
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  set(id: number, value: T): void {
    if (id >= MAX_SLOT) {
      this.overflow ??= new Map();
      if (!this.overflow.has(id)) this.count++;
      this.overflow.set(id, value);
      return;
    }
    const slots = this.slots;
    // Grow without holes, so the array keeps fast packed elements.
    while (slots.length <= id) slots.push(undefined);
    if (slots[id] === undefined) this.count++;
    slots[id] = value;
  }

  /**
   * For a client choosing its ids: binds a free id (the last one freed, else the next new one) to
   * what `make` builds for it. Ids stay tightly packed under constant load, where counting up
   * would walk through all 65535 of them.
   */
  claim(make: (id: number) => T): T {
    this.claiming = true;
    const slots = this.slots;
    let id = 0;
    while (this.free.length > 0) {
      const f = this.free.pop()!;
      if (slots[f] === undefined) {
        id = f;
        break;
      }
    }
    if (id === 0) id = Math.max(1, slots.length); // 0 is FCGI_NULL_REQUEST_ID (§3.3)
    const value = make(id);
    this.set(id, value);
    return value;
  }

  delete(id: number): boolean {
    if (id >= MAX_SLOT) {
      if (this.overflow?.delete(id) !== true) return false;
      this.count--;
      return true;
    }
    if (this.slots[id] === undefined) return false;
    this.slots[id] = undefined;
    if (this.claiming) this.free.push(id);
    this.count--;
    return true;
  }

  clear(): void {
    this.slots.length = 0;
    this.free.length = 0;
    this.overflow = null;
    this.count = 0;
  }

  /** A snapshot of the requests in flight: the loop body may end some of them. */
  values(): T[] {
    const out: T[] = [];
    for (const v of this.slots) if (v !== undefined) out.push(v);
    if (this.overflow !== null) for (const v of this.overflow.values()) out.push(v);
    return out;
  }
}
