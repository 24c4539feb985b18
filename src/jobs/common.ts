import type { ActivityOptions } from '@temporalio/common';
import { z } from 'zod';

/** A database id as users pass it: a positive integer. */
export const recordId = z.number().int().positive();

/** Error type of an activity failure caused by a record that does not exist: retrying cannot help. */
export const RECORD_NOT_FOUND = 'RecordNotFound';

/**
 * Activity options for jobs that only touch the database: short attempts, exponential backoff from 1 s capped at
 * 1 min, and no retry of a missing record.
 */
export const databaseActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [RECORD_NOT_FOUND],
  },
};
