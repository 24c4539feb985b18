import { z } from 'zod';
import type { createSendWelcomeEmailActivities } from '../activities/send-welcome-email';
import { ErrorType, defineJob, proxyJobActivities, recordId } from 'durable-jobs/workflow';
const args = z.strictObject({ userId: recordId });

/** Safe arguments: only the user id travels; the address and name are read fresh when the email is sent. */
export const sendWelcomeEmail = defineJob({
  name: 'send-welcome-email',
  description: "Send a user's welcome email once, reading their current address when it runs.",
  workflow: sendWelcomeEmailWorkflow,
  queue: 'default',
  args,
  idempotencyKey: ({ userId }) => String(userId),
  activities: {
    /** A mail server that is down comes back in minutes: back off from 5 s to 5 min over 8 attempts. */
    sendWelcomeEmail: {
      options: {
        startToCloseTimeout: '30s',
        retry: {
          initialInterval: '5s',
          backoffCoefficient: 2,
          maximumInterval: '5m',
          maximumAttempts: 8,
          nonRetryableErrorTypes: [ErrorType.RecordNotFound],
        },
      },
    },
  },
});

type WelcomeActivities = ReturnType<typeof createSendWelcomeEmailActivities>;
const { sendWelcomeEmail: send }: WelcomeActivities = proxyJobActivities(sendWelcomeEmail);

/** Only the user id is in the history; the activity reads the user's current address when it sends. */
export async function sendWelcomeEmailWorkflow({
  userId,
}: z.infer<typeof args>): ReturnType<WelcomeActivities['sendWelcomeEmail']> {
  return await send(userId);
}
