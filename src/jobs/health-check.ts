import { z } from 'zod';
import { defineJob } from '../job-definition';

/** Default failure-rate threshold of every job (the seed article's 2%); a job overrides it with `alertFailureRate`. */
export const DEFAULT_ALERT_FAILURE_RATE = 0.02;

/**
 * The failure-rate alert: computes each job's failure rate over a window from Temporal's visibility and alerts — to
 * the alert webhook and the log — once per incident, with a recovery message when it falls back. Run every minute by
 * a Temporal Schedule (`jobctl alerts schedule`).
 */
export const healthCheck = defineJob({
  name: 'health-check',
  description: "Alert when a job's failure rate over the last window crosses its threshold; say when it recovers.",
  workflowType: 'healthCheckWorkflow',
  queue: 'high',
  args: z.strictObject({ windowMinutes: z.number().int().min(1).max(24 * 60) }),
  idempotencyKey: ({ windowMinutes }) => `window-${windowMinutes}m`,
  activities: { startToCloseTimeout: '1m', retry: { initialInterval: '5s', maximumAttempts: 3 } },
});
