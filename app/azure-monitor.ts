import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { useAzureMonitor } from '@azure/monitor-opentelemetry';
import { AzureMonitorMetricExporter } from '@azure/monitor-opentelemetry-exporter';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { createRequire } from 'node:module';
import type { Config } from '../shared/config';
import { Tracing, type TraceApi } from '../shared/telemetry/tracing';

/** How often the service's own metrics are exported. */
const EXPORT_INTERVAL_MS = 60_000;

/**
 * In Azure, starts the Azure Monitor OpenTelemetry distro (traces, the Azure SDK's dependency
 * calls) and returns what sends the service's own telemetry to the same Application Insights:
 * a reader exporting its metrics (`veriproof.*`) and the tracing its spans go through. Both are
 * authenticated with the app's managed identity (Entra ID: the component refuses key-based
 * ingestion, monitoring.bicep), next to what the Functions host sends. `undefined` where there
 * is nothing to export to (local mode, tests, no connection string).
 *
 * The distro's OpenTelemetry packages are a version behind the ones the service's metrics use
 * (whose API does not read a global an older API registered), so the metrics get an exporter of
 * their own, and spans are made through the API the distro registered its tracer provider with.
 */
export function startAzureMonitor(
  config: Config,
  env: Record<string, string | undefined>,
  credential: () => TokenCredential = () =>
    new ManagedIdentityCredential(config.managedIdentityClientId ? { clientId: config.managedIdentityClientId } : {}),
  exportIntervalMs = EXPORT_INTERVAL_MS,
): { reader: PeriodicExportingMetricReader; tracing: Tracing } | undefined {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (config.runtime === 'local' || !connectionString) return undefined;
  const identity = credential();
  useAzureMonitor({
    azureMonitorExporterOptions: { connectionString, credential: identity },
    // Requests come to the worker from the Functions host, not over HTTP: the host reports them.
    instrumentationOptions: { http: { enabled: false }, azureSdk: { enabled: true } },
    enableLiveMetrics: false,
  });
  const exporter = new AzureMonitorMetricExporter({ connectionString, credential: identity });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: exportIntervalMs });
  // The API next to the distro: the one its tracer provider and context manager are registered with.
  const api = createRequire(require.resolve('@azure/monitor-opentelemetry'))('@opentelemetry/api') as TraceApi;
  return { reader, tracing: new Tracing(api) };
}
