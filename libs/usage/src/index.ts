export { USAGE_SINK, type UsageRecord, type UsageSink } from './usage-record.js';
