import { createHttpHeaders, type PipelinePolicy, type PipelineResponse } from '@azure/core-rest-pipeline';
import { z } from 'zod';
import { describeOperation, entitiesRead } from './storage-operations';

/**
 * A fault for tests and the benchmark: Table Storage's answer to a partition pushed past its
 * scalability target. Azurite has no such limit, so this policy plays the service's part: it
 * counts the entities each matching partition receives over the last second, and once a
 * partition is over `entitiesPerSecond` it answers, without sending, what the service answers
 * (503 `ServerBusy` or 500 `OperationTimedOut`, with the service's error body). Production never
 * installs it; the local host does only when started with `--fault-throttle`.
 */
export const partitionThrottleSchema = z.strictObject({
  /** A regular expression over partition keys (for example `^slowco~` for one customer's sessions). */
  partition: z.string().min(1),
  entitiesPerSecond: z.number().positive(),
  answer: z.enum(['ServerBusy', 'OperationTimedOut']).default('ServerBusy'),
});
export type PartitionThrottleOptions = z.input<typeof partitionThrottleSchema>;

const WINDOW_MS = 1000;

export function partitionThrottlePolicy(options: PartitionThrottleOptions): PipelinePolicy & { refused: () => number } {
  const { partition, entitiesPerSecond, answer } = partitionThrottleSchema.parse(options);
  const matches = new RegExp(partition);
  /** Per partition: when each accepted entity arrived, oldest first. */
  const arrivals = new Map<string, number[]>();
  let refused = 0;
  const load = (key: string, now: number): number[] => {
    const list = arrivals.get(key) ?? [];
    while (list.length > 0 && list[0]! <= now - WINDOW_MS) list.shift();
    arrivals.set(key, list);
    return list;
  };
  return {
    name: 'partitionThrottleFault',
    refused: () => refused,
    async sendRequest(request, next): Promise<PipelineResponse> {
      const target = describeOperation(request);
      if (target.partition === undefined || !matches.test(target.partition)) return next(request);
      const list = load(target.partition, Date.now());
      if (list.length >= entitiesPerSecond) {
        refused += 1;
        const status = answer === 'ServerBusy' ? 503 : 500;
        const message = answer === 'ServerBusy' ? 'The server is busy.' : 'The operation could not be completed within the permitted time.';
        return {
          request,
          status,
          headers: createHttpHeaders({ 'content-type': 'application/json;odata=minimalmetadata', 'x-ms-error-code': answer }),
          bodyAsText: JSON.stringify({ 'odata.error': { code: answer, message: { lang: 'en-US', value: message } } }),
        };
      }
      const response = await next(request);
      const entities = target.entitiesWritten + entitiesRead(target, response);
      const now = Date.now();
      for (let i = 0; i < entities; i++) list.push(now);
      return response;
    },
  };
}
