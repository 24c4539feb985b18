import { ApplicationFailure } from '@temporalio/activity';
import type { Database } from '../src/db/schema';
import { parseIsoDate } from '../src/iso-date';
import { RECORD_NOT_FOUND } from '../src/jobs/common';
import type { REPORT_TYPES } from '../src/jobs/generate-report';

export interface DatabaseActivityDeps {
  db: Database;
  /** Called after the invoice transaction commits and before the activity reports; tests use it to crash there. */
  afterInvoiceCommitted?: (invoiceId: number) => void | Promise<void>;
  /** Extra time each search-index update takes; tests and benchmarks make the low queue slow with it. */
  searchIndexDelayMs?: number;
  /** Called when a search-index update starts; tests record the order jobs start in. */
  onSearchIndexStarted?: (recordType: string, recordId: number) => void;
}

export interface InvoiceResult {
  invoiceId: number;
  documentId: number;
  generatedAt: string;
  /** True when an earlier attempt or run had already generated it and this one did nothing. */
  alreadyGenerated: boolean;
}

export interface ReportResult {
  reportId: number;
  alreadyGenerated: boolean;
  content: string;
}

export function createDatabaseActivities({ db, afterInvoiceCommitted, searchIndexDelayMs, onSearchIndexStarted }: DatabaseActivityDeps) {
  return {
    /** Reads the record fresh and replaces its search document: re-indexing twice leaves one document. */
    async updateSearchIndex(recordType: 'user' | 'invoice', recordId: number): Promise<{ indexed: boolean }> {
      onSearchIndexStarted?.(recordType, recordId);
      if (searchIndexDelayMs) await new Promise((r) => setTimeout(r, searchIndexDelayMs));
      const document =
        recordType === 'user'
          ? await db.selectFrom('users').select(['name', 'email']).where('id', '=', recordId).executeTakeFirst()
          : await db.selectFrom('invoices').select(['amount_cents', 'currency', 'generated_at']).where('id', '=', recordId).executeTakeFirst();
      if (!document) {
        await db.deleteFrom('search_index').where('record_type', '=', recordType).where('record_id', '=', recordId).execute();
        return { indexed: false }; // deleted since enqueue: drop it from the index
      }
      const row = { document: JSON.stringify(document), indexed_at: new Date().toISOString() };
      await db
        .insertInto('search_index')
        .values({ record_type: recordType, record_id: recordId, ...row })
        .onConflict((oc) => oc.columns(['record_type', 'record_id']).doUpdateSet(row))
        .execute();
      return { indexed: true };
    },

    /**
     * Guard, then work, in one transaction: if `generated_at` is set the invoice is done and nothing happens; else
     * the document and `generated_at` commit together, so no attempt can leave a document without the flag.
     */
    async generateInvoice(invoiceId: number): Promise<InvoiceResult> {
      const result = await db.transaction().execute(async (trx) => {
        const invoice = await trx
          .selectFrom('invoices')
          .innerJoin('users', 'users.id', 'invoices.user_id')
          .select(['invoices.id', 'invoices.amount_cents', 'invoices.currency', 'invoices.generated_at', 'users.name', 'users.email'])
          .where('invoices.id', '=', invoiceId)
          .executeTakeFirst();
        if (!invoice) throw ApplicationFailure.nonRetryable(`invoice ${invoiceId} does not exist`, RECORD_NOT_FOUND);
        if (invoice.generated_at) {
          const doc = await trx
            .selectFrom('invoice_documents')
            .select('id')
            .where('invoice_id', '=', invoiceId)
            .orderBy('id')
            .executeTakeFirstOrThrow();
          return { invoiceId, documentId: doc.id, generatedAt: invoice.generated_at, alreadyGenerated: true };
        }
        const generatedAt = new Date().toISOString();
        const content = renderInvoice({ ...invoice, generatedAt });
        const doc = await trx
          .insertInto('invoice_documents')
          .values({ invoice_id: invoiceId, content, created_at: generatedAt })
          .returning('id')
          .executeTakeFirstOrThrow();
        const updated = await trx
          .updateTable('invoices')
          .set({ generated_at: generatedAt })
          .where('id', '=', invoiceId)
          .where('generated_at', 'is', null)
          .executeTakeFirst();
        // Another process won the race between our read and write: roll back and let the retry see its work.
        if (updated.numUpdatedRows !== 1n) throw new Error(`invoice ${invoiceId} was generated concurrently; retrying`);
        return { invoiceId, documentId: doc.id, generatedAt, alreadyGenerated: false };
      });
      await afterInvoiceCommitted?.(invoiceId);
      return result;
    },

    /** Reads fresh invoice data for the range when it runs; one stored report per (user, type, range). */
    async generateReport(args: {
      userId: number;
      reportType: (typeof REPORT_TYPES)[number];
      startDate: string;
      endDate: string;
    }): Promise<ReportResult> {
      const { userId, reportType, startDate, endDate } = args;
      const existing = await db
        .selectFrom('reports')
        .select(['id', 'content'])
        .where('user_id', '=', userId)
        .where('report_type', '=', reportType)
        .where('start_date', '=', startDate)
        .where('end_date', '=', endDate)
        .executeTakeFirst();
      if (existing) return { reportId: existing.id, alreadyGenerated: true, content: existing.content };

      const user = await db.selectFrom('users').select(['id', 'name']).where('id', '=', userId).executeTakeFirst();
      if (!user) throw ApplicationFailure.nonRetryable(`user ${userId} does not exist`, RECORD_NOT_FOUND);
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
        .values({ user_id: userId, report_type: reportType, start_date: startDate, end_date: endDate, content, created_at: new Date().toISOString() })
        .onConflict((oc) => oc.columns(['user_id', 'report_type', 'start_date', 'end_date']).doNothing())
        .execute();
      const stored = await db
        .selectFrom('reports')
        .select(['id', 'content'])
        .where('user_id', '=', userId)
        .where('report_type', '=', reportType)
        .where('start_date', '=', startDate)
        .where('end_date', '=', endDate)
        .executeTakeFirstOrThrow();
      return { reportId: stored.id, alreadyGenerated: stored.content !== content, content: stored.content };
    },
  };
}

function renderInvoice(i: { id: number; name: string; email: string; amount_cents: number; currency: string; generatedAt: string }): string {
  const amount = (Number(i.amount_cents) / 100).toFixed(2);
  return [`INVOICE #${i.id}`, `Bill to: ${i.name} <${i.email}>`, `Amount: ${amount} ${i.currency}`, `Issued: ${i.generatedAt}`].join('\n');
}
