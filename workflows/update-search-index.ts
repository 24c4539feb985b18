import { z } from 'zod';
import type { createUpdateSearchIndexActivities } from '../activities/update-search-index';
import { databaseActivity, defineJob, proxyJobActivities, recordId } from 'durable-jobs/workflow';

const args = z.strictObject({ recordId, recordType: z.enum(['user', 'invoice']) });

/** Re-indexes one record for search, on the low queue: plenty of these must never delay payments. */
export const updateSearchIndex = defineJob({
  name: 'update-search-index',
  description: "Replace a record's search document with its current data.",
  workflow: updateSearchIndexWorkflow,
  queue: 'low',
  args,
  idempotencyKey: ({ recordType, recordId }) => `${recordType}/${recordId}`,
  activities: { updateSearchIndex: { options: databaseActivity } },
});

const activities: ReturnType<typeof createUpdateSearchIndexActivities> = proxyJobActivities(updateSearchIndex);

/** Reads the record when it runs, so a re-index enqueued long ago still indexes current data. */
export async function updateSearchIndexWorkflow({ recordType, recordId }: z.infer<typeof args>) {
  return await activities.updateSearchIndex(recordType, recordId);
}
