export { MetricsService } from './metrics.service.js';
export { MetricsModule } from './metrics.module.js';
export { boundCounter, type CounterSeries } from './bound-counter.js';
export { LiteHistogram, type HistogramSeries } from './lite-histogram.js';
