import { proxyActivities } from '@temporalio/workflow';
import { z } from 'zod';
import type { createNoopActivities } from '../activities/noop';
import { defineJob } from '../src/job-definition';

const args = z.strictObject({ id: z.string().min(1).max(200) });

/**
 * Does nothing in one activity: measures the job system itself (`npm run bench -- throughput`) and smoke-tests a
 * deployment.
 */
export const noop = defineJob({
  name: 'noop',
  description: 'Run one empty activity; for benchmarks and smoke tests.',
  workflow: noopWorkflow,
  queue: 'default',
  enqueueOverHttp: false, // internal: benchmarks and smoke tests
  args,
  idempotencyKey: ({ id }) => id,
});

const activities = proxyActivities<ReturnType<typeof createNoopActivities>>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
});

/** One empty activity: what remains is the cost of the job system itself. */
export async function noopWorkflow({ id }: z.infer<typeof args>): Promise<void> {
  await activities.noop(id);
}
