import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { useAzureMonitor } from '@azure/monitor-opentelemetry';
import { AzureMonitorMetricExporter } from '@azure/monitor-opentelemetry-exporter';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { Config } from '../shared/config';

/** How often the service's own metrics are exported. */
const EXPORT_INTERVAL_MS = 60_000;

/**
 * In Azure, starts the Azure Monitor OpenTelemetry distro (traces, the Azure SDK's dependency
 * calls) and returns a reader that exports the service's own metrics (`veriproof.*`) to the same
 * Application Insights, both authenticated with the app's managed identity (Entra ID: the
 * component refuses key-based ingestion, monitoring.bicep), next to what the Functions host
 * sends. `undefined` where there is nothing to export to (local mode, tests, no connection string).
 *
 * The distro's OpenTelemetry packages are a major version behind the ones the service's metrics
 * use, so the metrics get an exporter of their own rather than the distro's global meter.
 */
export function startAzureMonitor(
  config: Config,
  env: Record<string, string | undefined>,
  credential: () => TokenCredential = () =>
    new ManagedIdentityCredential(config.managedIdentityClientId ? { clientId: config.managedIdentityClientId } : {}),
  exportIntervalMs = EXPORT_INTERVAL_MS,
): PeriodicExportingMetricReader | undefined {
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
  return new PeriodicExportingMetricReader({
    exporter: exporter,
    exportIntervalMillis: exportIntervalMs,
  });
}
