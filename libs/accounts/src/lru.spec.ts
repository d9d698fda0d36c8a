import { describe, expect, it } from 'vitest';
import { Lru } from './lru.js';

describe('Lru', () => {
  it('evicts the least recently used entry past its size', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.size).toBe(2);
  });

  it('deletes entries by predicate', () => {
    const lru = new Lru<string, number>(10);
    [1, 2, 3, 4].forEach((n) => lru.set(String(n), n));
    lru.deleteWhere((v) => v % 2 === 0);
    expect([lru.get('1'), lru.get('2'), lru.get('3'), lru.get('4')]).toEqual([1, undefined, 3, undefined]);
  });
});
