import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { JobArgs } from '../src/job-definition';
import { sendWelcomeEmail } from '../src/jobs/send-welcome-email';

const activities = proxyActivities<Activities>(sendWelcomeEmail.activities);

/** Only the user id is in the history; the activity reads the user's current address when it sends. */
export async function sendWelcomeEmailWorkflow({ userId }: JobArgs<typeof sendWelcomeEmail>) {
  return await activities.sendWelcomeEmail(userId);
}
