import { describe, expect, it } from 'vitest';
import { refreshDelayMs } from './token-refresher.service.js';

describe('refreshDelayMs', () => {
  const now = 1_000_000_000_000;
  const s = now / 1000;

  it('renews at refresh_in − 60 s', () => {
    expect(refreshDelayMs({ refreshAt: s + 1500, expiresAt: s + 1800 }, now)).toBe(1440_000);
  });

  it('never later than expires_at − 60 s', () => {
    expect(refreshDelayMs({ refreshAt: s + 5000, expiresAt: s + 1800 }, now)).toBe(1740_000);
  });

  it('never sooner than 1 s, even for a token already due', () => {
    expect(refreshDelayMs({ refreshAt: s - 10, expiresAt: s + 30 }, now)).toBe(1000);
  });
});
