/** Least-recently-used map on Map's insertion order: get() moves an entry to the back. */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  deleteWhere(pred: (v: V, k: K) => boolean): void {
    for (const [k, v] of this.map) if (pred(v, k)) this.map.delete(k);
  }

  /** Entries from least to most recently used, without touching their order. */
  values(): IterableIterator<V> {
    return this.map.values();
  }

  clear() {
    this.map.clear();
  }

  get size() {
    return this.map.size;
  }
}
