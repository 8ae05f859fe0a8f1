import type { Attributes } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { ServiceMetrics } from './metrics';

/** One metric's current value on this instance, for one set of attributes. */
export interface MetricPoint {
  name: string;
  /** What the metric counts or measures, as its instrument was described. */
  description: string;
  /** Its unit (UCUM: `ms`, `s`, `By`); empty for a count. */
  unit: string;
  attributes: Attributes;
  /** A counter's total or a gauge's value; for a histogram, the number of recordings. */
  value: number;
  /** For a histogram: the sum, min and max of what was recorded. */
  sum?: number;
  min?: number;
  max?: number;
}

/** The instrumentation scope of every metric the service emits. */
export const METER_NAME = 'veriproof.keys';

/** A reader that collects only when asked: what the staff route and `npm run admin -- stats` show. */
class OnDemandReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/**
 * The service's OpenTelemetry metrics: a MeterProvider of its own with an on-demand reader (this
 * instance's current values, for the staff route, the admin CLI and the tests) and, in Azure, a
 * reader that exports to Azure Monitor every minute.
 */
export class Telemetry {
  readonly metrics: ServiceMetrics;
  private readonly reader = new OnDemandReader();
  private readonly provider: MeterProvider;

  /** `readers`: readers that export (in Azure, to Azure Monitor: app/azure-monitor.ts), beside the on-demand one. */
  constructor(options: { readers?: MetricReader[] } = {}) {
    this.provider = new MeterProvider({ readers: [this.reader, ...(options.readers ?? [])] });
    this.metrics = new ServiceMetrics([this.provider.getMeter(METER_NAME)]);
  }

  /** Exports what the exporting readers hold (a graceful stop). */
  async flush(): Promise<void> {
    await this.provider.forceFlush();
  }

  /** Every metric's current value on this instance (cumulative since the process started). */
  async snapshot(): Promise<MetricPoint[]> {
    const { resourceMetrics } = await this.reader.collect();
    const points: MetricPoint[] = [];
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        const { name, description, unit } = metric.descriptor;
        for (const point of metric.dataPoints) {
          const value = point.value as unknown;
          if (metric.dataPointType === DataPointType.HISTOGRAM && value && typeof value === 'object') {
            const h = value as { count: number; sum?: number; min?: number; max?: number };
            points.push({ name, description, unit, attributes: point.attributes, value: h.count, sum: h.sum, min: h.min, max: h.max });
          } else if (typeof value === 'number') {
            points.push({ name, description, unit, attributes: point.attributes, value });
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
