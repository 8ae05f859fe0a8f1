import type { Clock } from '../clock';
import { describeError, type Logger } from '../logging';
import type { HealthProbe } from '../ports/health-probe';

export interface DependencyHealth {
  name: string;
  ok: boolean;
  /** When the last probe finished (undefined before the first one). */
  checkedAt: string | undefined;
  /** How long the last probe took. */
  latencyMs: number | undefined;
}

/**
 * Probes dependencies in the background on a fixed interval and remembers the last answer,
 * so that `GET /v1/health` never waits on storage. Before the first probe completes the
 * dependency counts as not answered.
 */
export class HealthMonitor {
  private readonly state = new Map<string, DependencyHealth>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly probes: HealthProbe[],
    private readonly intervalMs: number,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    for (const probe of probes) {
      this.state.set(probe.name, { name: probe.name, ok: false, checkedAt: undefined, latencyMs: undefined });
    }
  }

  /** Starts probing now and then every interval. The timer never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    void this.probeAll();
    this.timer = setInterval(() => void this.probeAll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Runs every probe once (a run already under way is shared). */
  probeAll(): Promise<void> {
    this.running ??= Promise.all(this.probes.map((p) => this.probeOne(p))).then(() => {
      this.running = undefined;
    });
    return this.running;
  }

  snapshot(): { ok: boolean; dependencies: DependencyHealth[] } {
    const dependencies = [...this.state.values()].map((d) => ({ ...d }));
    return { ok: dependencies.every((d) => d.ok), dependencies };
  }

  private async probeOne(probe: HealthProbe): Promise<void> {
    const started = performance.now();
    let ok = true;
    try {
      await probe.check();
    } catch (error) {
      ok = false;
      if (this.state.get(probe.name)?.ok !== false || this.state.get(probe.name)?.checkedAt === undefined) {
        this.log.warn('health probe failed', { dependency: probe.name, ...describeError(error) });
      }
    }
    const previous = this.state.get(probe.name);
    if (previous && !previous.ok && ok && previous.checkedAt !== undefined) {
      this.log.info('health probe recovered', { dependency: probe.name });
    }
    this.state.set(probe.name, {
      name: probe.name,
      ok,
      checkedAt: this.clock.now().toISOString(),
      latencyMs: Math.round((performance.now() - started) * 10) / 10,
    });
  }
}
