import type { Attributes } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader, type MetricReader as Reader } from '@opentelemetry/sdk-metrics';
import { ServiceMetrics } from './metrics';

/** One metric's current value on this instance, for one set of attributes. */
export interface MetricPoint {
  name: string;
  attributes: Attributes;
  /** A counter's total or a gauge's value; for a histogram, the number of recordings. */
  value: number;
  /** For a histogram: the sum, min and max of what was recorded. */
  sum?: number;
  min?: number;
  max?: number;
}

/** A reader that collects only when asked: what the staff route and `npm run admin -- stats` show. */
class OnDemandReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/**
 * The service's OpenTelemetry metrics: one MeterProvider per process with an on-demand reader
 * (this instance's current values, read by the staff route and the admin CLI) and, in Azure,
 * the readers that export (added by the entry point). Tests read the same snapshot.
 */
export class Telemetry {
  readonly metrics: ServiceMetrics;
  private readonly reader = new OnDemandReader();
  private readonly provider: MeterProvider;

  constructor(options: { readers?: Reader[] } = {}) {
    this.provider = new MeterProvider({ readers: [this.reader, ...(options.readers ?? [])] });
    this.metrics = new ServiceMetrics(this.provider.getMeter('veriproof.keys'));
  }

  /** Every metric's current value on this instance (cumulative since the process started). */
  async snapshot(): Promise<MetricPoint[]> {
    const { resourceMetrics } = await this.reader.collect();
    const points: MetricPoint[] = [];
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        for (const point of metric.dataPoints) {
          const value = point.value as unknown;
          if (metric.dataPointType === DataPointType.HISTOGRAM && value && typeof value === 'object') {
            const h = value as { count: number; sum?: number; min?: number; max?: number };
            points.push({ name: metric.descriptor.name, attributes: point.attributes, value: h.count, sum: h.sum, min: h.min, max: h.max });
          } else if (typeof value === 'number') {
            points.push({ name: metric.descriptor.name, attributes: point.attributes, value });
          }
        }
      }
    }
    return points;
  }

  /** The value of one metric summed over the points whose attributes include `match`. */
  async total(name: string, match: Attributes = {}): Promise<number> {
    return (await this.snapshot())
      .filter((p) => p.name === name && Object.entries(match).every(([k, v]) => p.attributes[k] === v))
      .reduce((sum, p) => sum + p.value, 0);
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
