import { proxyActivities } from '@temporalio/workflow';
import { z } from 'zod';
import type { createSendWelcomeEmailActivities } from '../activities/send-welcome-email';
import { ErrorType, defineJob, recordId } from 'durable-jobs/workflow';
const args = z.strictObject({ userId: recordId });

/** Safe arguments: only the user id travels; the address and name are read fresh when the email is sent. */
export const sendWelcomeEmail = defineJob({
  name: 'send-welcome-email',
  description: "Send a user's welcome email once, reading their current address when it runs.",
  workflow: sendWelcomeEmailWorkflow,
  queue: 'default',
  args,
  idempotencyKey: ({ userId }) => String(userId),
});

/** A mail server that is down comes back in minutes: back off from 5 s to 5 min over 8 attempts. */
const { sendWelcomeEmail: send } = proxyActivities<ReturnType<typeof createSendWelcomeEmailActivities>>({
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
    maximumAttempts: 8,
    nonRetryableErrorTypes: [ErrorType.RecordNotFound],
  },
});

/** Only the user id is in the history; the activity reads the user's current address when it sends. */
export async function sendWelcomeEmailWorkflow({ userId }: z.infer<typeof args>) {
  return await send(userId);
}
