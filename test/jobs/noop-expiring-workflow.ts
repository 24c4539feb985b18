import { z } from 'zod';
import type { createNoopActivities } from './noop-activities';
import { proxyJobActivities } from '../../src/sandbox/job-activities';
import { defineJob } from '../../src/sandbox/job-definition';

const args = z.strictObject({ id: z.string().min(1).max(200) });

/**
 * noop whose definition declares `expiresAfter`, with a workflow type of its own: a run started without our client
 * (raw SDK, Temporal CLI, a Schedule: no `expiresAt` memo) resolves to this job by its type, so the expiry tests can
 * show its declared deadline holds for such a run too (test/delayed-jobs.test.ts).
 */
export const noopExpiring = defineJob({
  name: 'noop-expiring',
  description: 'Run one empty activity, dropped if not started within 6 s; for the expiry tests.',
  workflow: noopExpiringWorkflow,
  queue: 'default',
  enqueueOverHttp: false, // internal: tests
  args,
  idempotencyKey: ({ id }) => id,
  expiresAfter: '6s',
  activities: {
    noop: { options: { startToCloseTimeout: '10s', retry: { initialInterval: '1s', maximumAttempts: 3 } } },
  },
});

const { noop }: ReturnType<typeof createNoopActivities> = proxyJobActivities(noopExpiring);

/** The same empty activity as noop's. */
export async function noopExpiringWorkflow({ id }: z.infer<typeof args>): Promise<void> {
  await noop(id);
}
