import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { JobArgs } from '../src/job-definition';
import { healthCheck } from '../src/jobs/health-check';

const { evaluateAlerts } = proxyActivities<Activities>(healthCheck.activities);

/** One evaluation; the Schedule provides the "every minute", and skips a tick while one is still running. */
export async function healthCheckWorkflow({ windowMinutes }: JobArgs<typeof healthCheck>) {
  return await evaluateAlerts(windowMinutes);
}
