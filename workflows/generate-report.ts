import { z } from 'zod';
import type { createGenerateReportActivities } from '../activities/generate-report';
import {
  databaseActivity,
  defineJob,
  isoDate,
  proxyJobActivities,
  recordId,
  tryParseIsoDate,
} from 'durable-jobs/workflow';
export const REPORT_TYPES = ['monthly_sales', 'activity_summary'] as const;

const args = z
  .strictObject({ userId: recordId, reportType: z.enum(REPORT_TYPES), startDate: isoDate, endDate: isoDate })
  .refine(
    ({ startDate, endDate }) => {
      const [start, end] = [tryParseIsoDate(startDate), tryParseIsoDate(endDate)];
      return !start || !end || start <= end; // an invalid date is reported on its own field
    },
    { path: ['endDate'], message: 'must not be before startDate' },
  );
export type GenerateReportArgs = z.infer<typeof args>;

/** Safe arguments: ids, a report type and ISO date strings; the report reads fresh data when it runs. */
export const generateReport = defineJob({
  name: 'generate-report',
  description: 'Build a report for a user over an inclusive ISO date range.',
  workflow: generateReportWorkflow,
  queue: 'low',
  args,
  idempotencyKey: ({ userId, reportType, startDate, endDate }) => `${userId}/${reportType}/${startDate}..${endDate}`,
  // A user's burst of reports runs two at a time: it cannot take every slot of the low queue from other users.
  concurrency: { key: ({ userId }) => String(userId), limit: 2 },
  // Reports are per account: TenantId finds one user's runs (Web UI, `jobctl list --tenant 7`).
  tenant: ({ userId }) => String(userId),
  summary: ({ userId, reportType, startDate, endDate }) => `${reportType} for user ${userId}, ${startDate}..${endDate}`,
  activities: { generateReport: { options: databaseActivity } },
});

const activities: ReturnType<typeof createGenerateReportActivities> = proxyJobActivities(generateReport);

/** Dates stay ISO strings in the history; the activity parses them (src/iso-date.ts) and reads fresh data. */
export async function generateReportWorkflow(reportArgs: GenerateReportArgs) {
  return await activities.generateReport(reportArgs);
}
