import { readFileSync, writeFileSync } from 'node:fs';

/**
 * The resident memory of another process, from Linux's /proc: its current size and its peak
 * (`VmHWM`, kept by the kernel, so no short peak is missed between samples). For the tests and
 * the benchmark that hold a host process's memory to a bound.
 */

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(match[1]) * 1024;
}

export const residentBytes = (pid: number): number => statusField(pid, 'VmRSS');
export const peakResidentBytes = (pid: number): number => statusField(pid, 'VmHWM');

/**
 * Starts a new peak from the current size (writing 5 to `clear_refs`). Where the kernel does not
 * allow it, the peak keeps including what came before, which can only overstate a growth.
 */
export function resetPeakResident(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
