import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { JobArgs } from '../src/job-definition';
import { noop } from '../src/jobs/noop';

const activities = proxyActivities<Activities>(noop.activities);

/** One empty activity: what remains is the cost of the job system itself. */
export async function noopWorkflow({ id }: JobArgs<typeof noop>): Promise<void> {
  await activities.noop(id);
}
