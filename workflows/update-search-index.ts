import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { JobArgs } from '../src/job-definition';
import { updateSearchIndex } from '../src/jobs/update-search-index';

const activities = proxyActivities<Activities>(updateSearchIndex.activities);

/** Reads the record when it runs, so a re-index enqueued long ago still indexes current data. */
export async function updateSearchIndexWorkflow({ recordType, recordId }: JobArgs<typeof updateSearchIndex>) {
  return await activities.updateSearchIndex(recordType, recordId);
}
