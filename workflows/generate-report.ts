import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { JobArgs } from '../src/job-definition';
import { generateReport } from '../src/jobs/generate-report';

const activities = proxyActivities<Activities>(generateReport.activities);

/** Dates stay ISO strings in the history; the activity parses them (src/iso-date.ts) and reads fresh data. */
export async function generateReportWorkflow(args: JobArgs<typeof generateReport>) {
  return await activities.generateReport(args);
}
