import { z } from 'zod';
import type { createHealthCheckActivities } from '../worker/health-check-activities';
import { proxyJobActivities } from './job-activities';
import { defineJob } from './job-definition';

const args = z.strictObject({
  windowMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60),
});

/**
 * The failure-rate alert: computes each job's failure rate over a window from Temporal's visibility and alerts — to
 * the alert webhook and the log — once per incident, with a recovery message when it falls back. Runs every minute
 * over the last 15 minutes, on the Temporal Schedule its declaration compiles to (`jobctl schedules sync`). The same
 * activity also raises the task queue alerts (no worker polling, backlog too old; README "Queue backlog and worker
 * alerts"): the command sequence is unchanged, one `evaluateAlerts` call.
 */
export const healthCheck = defineJob({
  name: 'health-check',
  description:
    "Alert when a job's failure rate over the last window crosses its threshold, or a task queue has no worker or " +
    'an old backlog; say when it recovers.',
  workflow: healthCheckWorkflow,
  queue: 'high',
  args,
  idempotencyKey: ({ windowMinutes }) => `window-${windowMinutes}m`,
  logArguments: true, // a window size, nothing personal: the log says which window each check computed
  enqueueOverHttp: false, // started by its Schedule (or jobctl), never by a web caller
  // A check still running when the next minute comes makes that tick redundant: skip it.
  schedule: { every: '1m', overlap: 'skip', args: { windowMinutes: 15 } },
  activities: {
    /** A check that cannot finish in a minute is stale by the next tick: three quick attempts, then the next tick. */
    evaluateAlerts: { options: { startToCloseTimeout: '1m', retry: { initialInterval: '5s', maximumAttempts: 3 } } },
  },
});

type HealthCheckActivities = ReturnType<typeof createHealthCheckActivities>;
const { evaluateAlerts }: HealthCheckActivities = proxyJobActivities(healthCheck);

/** One evaluation; the Schedule provides the "every minute", and skips a tick while one is still running. */
export async function healthCheckWorkflow({
  windowMinutes,
}: z.infer<typeof args>): ReturnType<HealthCheckActivities['evaluateAlerts']> {
  return await evaluateAlerts(windowMinutes);
}
