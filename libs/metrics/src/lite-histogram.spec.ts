import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LiteHistogram } from './lite-histogram.js';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

describe('LiteHistogram', () => {
  it('is exposed exactly as prom-client’s Histogram is, for the same observations', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Histogram({ name: 'h_seconds', help: 'Latency', labelNames: ['route'] as const, buckets: BUCKETS, registers: [theirs] });
    const lite = new LiteHistogram({ name: 'h_seconds', help: 'Latency', labelNames: ['route'] as const, buckets: BUCKETS, registers: [ours] });
    const values = [0, 0.005, 0.0051, 0.02, 0.3, 0.3, 1, 7.5, 11, 300, NaN, -1];
    // series are listed in the order they were made (prom-client: first observed)
    const b = lite.labels({ route: '/v1/b' });
    const bound = { a: lite.labels({ route: '/v1/a' }), b };
    values.forEach((v, i) => {
      const route = i % 3 === 0 ? '/v1/b' : '/v1/a';
      if (Number.isFinite(v)) reference.observe({ route }, v);
      (route === '/v1/a' ? bound.a : bound.b).observe(v);
    });
    lite.observe({ route: '/v1/c' }, 0.01);
    reference.observe({ route: '/v1/c' }, 0.01);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses a label it was not given, as prom-client does', () => {
    const lite = new LiteHistogram({ name: 'x_seconds', help: 'x', labelNames: ['model'] as const, buckets: BUCKETS, registers: [] });
    expect(() => lite.labels({ model: 'a', other: 'b' } as never)).toThrow(/no label 'other'/);
  });
});
