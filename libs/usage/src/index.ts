export { USAGE_SINK, type UsageRecord, type UsageSink } from './usage-record.js';
export { UsageService, USAGE_STORE, type Totals, type PeriodTotals } from './usage.service.js';
export { UsageModule } from './usage.module.js';
export { MemoryUsageStore, RedisUsageStore, type UsageStore } from './usage.store.js';
export { parseUsageQuery, toCsv, csvColumns, UsageQueryError, type UsageQuery, type UsageRow, type GroupBy } from './usage-query.js';
export { COUNTERS, fieldOf } from './usage-batch.js';
