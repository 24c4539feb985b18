import type { Database } from './services/schema';
import { recordNotFound } from 'durable-jobs';

export interface InvoiceGenerationDeps {
  db: Database;
  /** Called after the invoice transaction commits and before the activity reports; tests use it to crash there. */
  afterInvoiceCommitted?: (invoiceId: number) => void | Promise<void>;
}

export interface InvoiceResult {
  invoiceId: number;
  documentId: number;
  generatedAt: string;
  /** True when an earlier attempt or run had already generated it and this one did nothing. */
  alreadyGenerated: boolean;
}

export function createInvoiceGenerationActivities({ db, afterInvoiceCommitted }: InvoiceGenerationDeps) {
  return {
    /**
     * Guard, then work, in one transaction: if `generated_at` is set the invoice is done and nothing happens; else
     * the document and `generated_at` commit together, so no attempt can leave a document without the flag.
     */
    async generateInvoice(invoiceId: number): Promise<InvoiceResult> {
      const result = await db.transaction().execute(async (trx) => {
        const invoice = await trx
          .selectFrom('invoices')
          .innerJoin('users', 'users.id', 'invoices.user_id')
          .select([
            'invoices.id',
            'invoices.amount_cents',
            'invoices.currency',
            'invoices.generated_at',
            'users.name',
            'users.email',
          ])
          .where('invoices.id', '=', invoiceId)
          .executeTakeFirst();
        if (!invoice) throw recordNotFound('invoice', invoiceId);
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
  };
}

function renderInvoice(i: {
  id: number;
  name: string;
  email: string;
  amount_cents: number;
  currency: string;
  generatedAt: string;
}): string {
  const amount = (Number(i.amount_cents) / 100).toFixed(2);
  return [
    `INVOICE #${i.id}`,
    `Bill to: ${i.name} <${i.email}>`,
    `Amount: ${amount} ${i.currency}`,
    `Issued: ${i.generatedAt}`,
  ].join('\n');
}
