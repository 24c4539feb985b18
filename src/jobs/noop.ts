import { z } from 'zod';
import { defineJob } from '../job-definition';

/** Does nothing in one activity: measures the job system itself (`npm run bench -- throughput`) and smoke-tests a deployment. */
export const noop = defineJob({
  name: 'noop',
  description: 'Run one empty activity; for benchmarks and smoke tests.',
  workflowType: 'noopWorkflow',
  queue: 'default',
  args: z.strictObject({ id: z.string().min(1).max(200) }),
  idempotencyKey: ({ id }) => id,
  activities: { startToCloseTimeout: '10s', retry: { initialInterval: '1s', maximumAttempts: 3 } },
});
