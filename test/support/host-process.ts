import { startHostProcess as start, type HostProcess } from '../../local/host-process';
import { recordOutput } from './secrets';

export type { HostProcess };

/** A host process whose log output goes through the no-secret check of the test run. */
export function startHostProcess(args: string[], env: Record<string, string>): Promise<HostProcess> {
  return start(args, env, { onLog: recordOutput });
}
