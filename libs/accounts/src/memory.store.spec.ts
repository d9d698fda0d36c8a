import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from './memory.store.js';

describe('MemoryStore.countHit', () => {
  afterEach(() => vi.useRealTimers());

  it('counts hits per name and starts again once the window is over', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const store = new MemoryStore(null);
    expect(await store.countHit('dstart:a:1', 60_000)).toBe(1);
    expect(await store.countHit('dstart:a:1', 60_000)).toBe(2);
    expect(await store.countHit('dstart:b:1', 60_000)).toBe(1);
    vi.advanceTimersByTime(60_000);
    expect(await store.countHit('dstart:a:1', 60_000)).toBe(1);
  });

  it('drops expired counters on its own, so names used once do not pile up', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const store = new MemoryStore(null);
    for (let i = 0; i < 1000; i++) await store.countHit(`dstart:10.0.${i >> 8}.${i & 255}:1`, 60_000);
    expect(store.counterCount).toBe(1000);
    vi.advanceTimersByTime(61_000);
    await store.countHit('dstart:other:2', 60_000);
    expect(store.counterCount).toBe(1);
  });

  it('stays bounded under a flood of live names', async () => {
    const store = new MemoryStore(null);
    for (let i = 0; i < 150_000; i++) await store.countHit(`n${i}`, 60_000);
    expect(store.counterCount).toBeLessThanOrEqual(100_000);
    // The newest names are the ones kept.
    expect(await store.countHit('n149999', 60_000)).toBe(2);
  });
});
