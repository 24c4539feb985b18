import { z } from 'zod';
import { defineJob } from '../job-definition';
import { recordId, RECORD_NOT_FOUND } from './common';

/** Safe arguments: only the user id travels; the address and name are read fresh when the email is sent. */
export const sendWelcomeEmail = defineJob({
  name: 'send-welcome-email',
  description: "Send a user's welcome email once, reading their current address when it runs.",
  workflowType: 'sendWelcomeEmailWorkflow',
  queue: 'default',
  args: z.strictObject({ userId: recordId }),
  idempotencyKey: ({ userId }) => String(userId),
  activities: {
    startToCloseTimeout: '30s',
    retry: {
      initialInterval: '5s',
      backoffCoefficient: 2,
      maximumInterval: '5m',
      maximumAttempts: 8,
      nonRetryableErrorTypes: [RECORD_NOT_FOUND],
    },
  },
});
