import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { boundCounter } from './bound-counter.js';

const value = async (registry: Registry, name: string, labels: Record<string, string>) => {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name)!;
  return metric.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
};

describe('boundCounter', () => {
  it('reads as prom-client’s own bound series would, scrape after scrape, beside unbound increments', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'x_total', help: 'x', labelNames: ['model', 'kind'] as const, registers: [registry] });
    const prompt = boundCounter(counter, { model: 'gpt-4o', kind: 'prompt' });
    const completion = boundCounter(counter, { model: 'gpt-4o', kind: 'completion' });
    prompt.inc(12);
    prompt.inc();
    completion.inc(3);
    counter.inc({ model: 'gpt-4o', kind: 'prompt' }, 100);
    expect(await value(registry, 'x_total', { kind: 'prompt' })).toBe(113);
    expect(await value(registry, 'x_total', { kind: 'completion' })).toBe(3);
    // counted once: a second scrape adds nothing that was already handed over
    expect(await value(registry, 'x_total', { kind: 'prompt' })).toBe(113);
    prompt.inc(2);
    expect(await registry.metrics()).toContain('x_total{model="gpt-4o",kind="prompt"} 115');
  });

  it('ignores what prom-client would throw on at scrape time, and keeps a collect the counter had', async () => {
    const registry = new Registry();
    let collected = 0;
    const counter = new Counter({ name: 'y_total', help: 'y', labelNames: ['a'] as const, registers: [registry], collect: () => void collected++ });
    const s = boundCounter(counter, { a: '1' });
    for (const bad of [-1, NaN, Infinity]) s.inc(bad);
    s.inc(0.5);
    await expect(registry.metrics()).resolves.toContain('y_total{a="1"} 0.5');
    expect(collected).toBe(1);
  });
});
