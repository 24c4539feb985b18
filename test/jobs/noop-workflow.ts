import { z } from 'zod';
import type { createNoopActivities } from './noop-activities';
import { proxyJobActivities } from '../../src/sandbox/job-activities';
import { defineJob } from '../../src/sandbox/job-definition';

const args = z.strictObject({
  id: z.string().min(1).max(200),
  /** Run the empty activity as a local activity (`noopLocal`): measures that path. @default false */
  local: z.boolean().optional(),
});

/**
 * Does nothing in one activity: measures the job system itself (`npm run bench -- throughput`) and smoke-tests a
 * deployment. `local: true` runs it as a local activity, so the bench measures both paths.
 */
/** Both paths of the empty activity: short attempts, three of them. */
const NOOP_OPTIONS = { startToCloseTimeout: '10s', retry: { initialInterval: '1s', maximumAttempts: 3 } } as const;

export const noop = defineJob({
  name: 'noop',
  description: 'Run one empty activity; for benchmarks and smoke tests.',
  workflow: noopWorkflow,
  queue: 'default',
  enqueueOverHttp: false, // internal: benchmarks and smoke tests
  args,
  idempotencyKey: ({ id }) => id,
  activities: {
    noop: { options: NOOP_OPTIONS },
    noopLocal: { options: NOOP_OPTIONS, local: true },
  },
});

const activities: ReturnType<typeof createNoopActivities> = proxyJobActivities(noop);

/** One empty activity: what remains is the cost of the job system itself. */
export async function noopWorkflow({ id, local }: z.infer<typeof args>): Promise<void> {
  await (local ? activities.noopLocal(id) : activities.noop(id));
}
