import type { Database } from './services/schema';
import { recordNotFound, parseIsoDate } from 'durable-jobs';

/** A report request, as the generate-report job's schema has checked it (workflows/generate-report.ts). */
export interface GenerateReportArgs {
  userId: number;
  reportType: 'monthly_sales' | 'activity_summary';
  startDate: string;
  endDate: string;
}

export interface GenerateReportDeps {
  db: Database;
}

export interface ReportResult {
  reportId: number;
  alreadyGenerated: boolean;
  content: string;
}

export function createGenerateReportActivities({ db }: GenerateReportDeps) {
  return {
    /** Reads fresh invoice data for the range when it runs; one stored report per (user, type, range). */
    async generateReport(args: GenerateReportArgs): Promise<ReportResult> {
      const { userId, reportType, startDate, endDate } = args;
      // The one stored report per (user, type, range).
      const storedReport = () =>
        db
          .selectFrom('reports')
          .select(['id', 'content'])
          .where('user_id', '=', userId)
          .where('report_type', '=', reportType)
          .where('start_date', '=', startDate)
          .where('end_date', '=', endDate);
      const existing = await storedReport().executeTakeFirst();
      if (existing) return { reportId: existing.id, alreadyGenerated: true, content: existing.content };

      const user = await db.selectFrom('users').select(['id', 'name']).where('id', '=', userId).executeTakeFirst();
      if (!user) throw recordNotFound('user', userId);
      const from = parseIsoDate(startDate).toISOString();
      const until = new Date(parseIsoDate(endDate).getTime() + 24 * 3600 * 1000).toISOString();
      const invoices = await db
        .selectFrom('invoices')
        .select(['amount_cents', 'generated_at'])
        .where('user_id', '=', userId)
        .where('created_at', '>=', from)
        .where('created_at', '<', until)
        .execute();
      const figures =
        reportType === 'monthly_sales'
          ? { invoices: invoices.length, totalCents: invoices.reduce((sum, i) => sum + Number(i.amount_cents), 0) }
          : { invoices: invoices.length, generated: invoices.filter((i) => i.generated_at !== null).length };
      const content = JSON.stringify({ user: user.name, reportType, startDate, endDate, ...figures });
      await db
        .insertInto('reports')
        .values({
          user_id: userId,
          report_type: reportType,
          start_date: startDate,
          end_date: endDate,
          content,
          created_at: new Date().toISOString(),
        })
        .onConflict((oc) => oc.columns(['user_id', 'report_type', 'start_date', 'end_date']).doNothing())
        .execute();
      const stored = await storedReport().executeTakeFirstOrThrow(); // ours, or a concurrent attempt's
      return { reportId: stored.id, alreadyGenerated: stored.content !== content, content: stored.content };
    },
  };
}
