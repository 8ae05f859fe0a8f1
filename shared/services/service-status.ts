import type { Clock } from '../clock';
import type { MetricPoint, Telemetry } from '../telemetry/telemetry';

/** This instance's metrics as they stand, for staff (the service view) and the admin CLI. */
export interface ServiceSnapshot {
  instanceId: string;
  at: string;
  metrics: MetricPoint[];
}

/** Reads the instance's current metric values (cumulative since it started; gauges as of now). */
export class ServiceStatus {
  constructor(
    private readonly telemetry: Telemetry,
    private readonly instanceId: string,
    private readonly clock: Clock,
  ) {}

  async snapshot(): Promise<ServiceSnapshot> {
    const metrics = await this.telemetry.snapshot();
    metrics.sort((a, b) => a.name.localeCompare(b.name) || JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
    return { instanceId: this.instanceId, at: this.clock.now().toISOString(), metrics };
  }
}
