/** UTC periods of the usage counters: their starts (epoch ms) and the compact ids used in key names. */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Hourly buckets are kept this long after their hour has ended (design.md §7: "hourly for 48 h"). */
export const HOURLY_KEEP_MS = 48 * HOUR_MS;

export const minuteStart = (ms: number) => ms - (((ms % MINUTE_MS) + MINUTE_MS) % MINUTE_MS);
export const hourStart = (ms: number) => ms - (((ms % HOUR_MS) + HOUR_MS) % HOUR_MS);
export const dayStart = (ms: number) => ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
export const monthStart = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};
export const nextMonthStart = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};

/** `YYYYMMDDHHmm` cut to `length` digits (12 minute, 10 hour, 8 day, 6 month), UTC. */
function digits(ms: number, length: number): string {
  const d = new Date(ms);
  const two = (n: number) => (n < 10 ? `0${n}` : String(n));
  const s = `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}`;
  return s.slice(0, length);
}
export const minuteId = (ms: number) => digits(ms, 12);
export const hourId = (ms: number) => digits(ms, 10);
export const dayId = (ms: number) => digits(ms, 8);
export const monthId = (ms: number) => digits(ms, 6);

export const iso = (ms: number) => new Date(ms).toISOString();
