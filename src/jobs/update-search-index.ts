import { z } from 'zod';
import { defineJob } from '../job-definition';
import { databaseActivityOptions, recordId } from './common';

/** Re-indexes one record for search, on the low queue: plenty of these must never delay payments. */
export const updateSearchIndex = defineJob({
  name: 'update-search-index',
  description: "Replace a record's search document with its current data.",
  workflowType: 'updateSearchIndexWorkflow',
  queue: 'low',
  args: z.strictObject({ recordId, recordType: z.enum(['user', 'invoice']) }),
  idempotencyKey: ({ recordType, recordId }) => `${recordType}/${recordId}`,
  activities: databaseActivityOptions,
});
