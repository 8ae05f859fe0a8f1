import { startHostProcess as start, type HostProcess } from '../../local/host-process';
import { recordOutput } from './secrets';

export type { HostProcess };

/** A host process whose log output goes through the no-secret check of the test run. */
export function startHostProcess(args: string[], env: Record<string, string>): Promise<HostProcess> {
  return start(args, env, { onLog: recordOutput });
}

/**
 * Resolves once `host` (started with `--diagnostics`) has completed a revocation-feed read that
 * started after this call: from then on it applies everything published to the feed before the
 * call. The event the multi-instance tests wait on, in place of timing the propagation.
 */
export async function nextFeedRead(host: HostProcess): Promise<void> {
  const response = await fetch(`${host.url}/_local/revocation-feed/next-read`);
  if (response.status !== 200)
    throw new Error(`${host.url} answered ${response.status} for its next feed read: start it with --diagnostics`);
  await response.arrayBuffer();
}
