/**
 * Least-recently-used map on Map's insertion order: get() moves an entry to the back, unless it is
 * there already (the same key asked for again, as a busy key is on every request: no delete and
 * re-insert into the Map then).
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  /** the key at the back of the map, when known */
  private last: K | undefined = undefined;
  private lastKnown = false;
  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    if (!this.lastKnown || this.last !== key) {
      this.map.delete(key);
      this.map.set(key, v);
      this.last = key;
      this.lastKnown = true;
    }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    this.last = key;
    this.lastKnown = true;
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): boolean {
    if (this.lastKnown && this.last === key) this.forgetLast();
    return this.map.delete(key);
  }

  deleteWhere(pred: (v: V, k: K) => boolean): void {
    for (const [k, v] of this.map) if (pred(v, k)) this.delete(k);
  }

  private forgetLast() {
    this.last = undefined;
    this.lastKnown = false;
  }

  /** Entries from least to most recently used, without touching their order. */
  values(): IterableIterator<V> {
    return this.map.values();
  }

  clear() {
    this.map.clear();
    this.forgetLast();
  }

  get size() {
    return this.map.size;
  }
}
