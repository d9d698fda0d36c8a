import { describe, expect, it } from 'vitest';
import { QueueFull, Semaphore } from './semaphore.js';

describe('Semaphore', () => {
  it('runs at most the limit at once, queues the next in order and refuses past the queue bound', async () => {
    const s = new Semaphore(2, 2);
    let now = 0;
    let peak = 0;
    const order: number[] = [];
    const releases: (() => void)[] = [];
    const task = (i: number) => () =>
      new Promise<number>((resolve) => {
        now++;
        peak = Math.max(peak, now);
        order.push(i);
        releases.push(() => {
          now--;
          resolve(i);
        });
      });
    const runs = [0, 1, 2, 3].map((i) => s.run(task(i)));
    await expect(s.run(task(4))).rejects.toBeInstanceOf(QueueFull);
    await Promise.resolve();
    expect([s.active, s.waiting]).toEqual([2, 2]);
    while (releases.length) {
      releases.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(peak).toBe(2);
    expect([s.active, s.waiting]).toEqual([0, 0]);
  });

  it('frees its slot when a task throws', async () => {
    const s = new Semaphore(1, 0);
    await expect(s.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await s.run(async () => 'next')).toBe('next');
  });
});
