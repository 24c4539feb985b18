import { z } from 'zod';
import { defineJob } from '../job-definition';
import { isoDate, tryParseIsoDate } from '../iso-date';
import { databaseActivityOptions, recordId } from './common';

export const REPORT_TYPES = ['monthly_sales', 'activity_summary'] as const;

/** Safe arguments: ids, a report type and ISO date strings; the report reads fresh data when it runs. */
export const generateReport = defineJob({
  name: 'generate-report',
  description: 'Build a report for a user over an inclusive ISO date range.',
  workflowType: 'generateReportWorkflow',
  queue: 'low',
  args: z
    .strictObject({ userId: recordId, reportType: z.enum(REPORT_TYPES), startDate: isoDate, endDate: isoDate })
    .refine(({ startDate, endDate }) => {
      const [start, end] = [tryParseIsoDate(startDate), tryParseIsoDate(endDate)];
      return !start || !end || start <= end; // an invalid date is reported on its own field
    }, {
      path: ['endDate'],
      message: 'must not be before startDate',
    }),
  idempotencyKey: ({ userId, reportType, startDate, endDate }) => `${userId}/${reportType}/${startDate}..${endDate}`,
  activities: databaseActivityOptions,
});
